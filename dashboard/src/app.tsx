import { useEffect, useState } from 'preact/hooks';
import { adminKey } from './api.js';
import { registerFunctions } from './format.js';
import { KeyForm } from './key-form.js';
import { connectOps, type OpsView } from './ops-connection.js';
import { FunctionsPanel } from './panels/functions-panel.js';
import { InvocationsPanel } from './panels/invocations-panel.js';
import { NodesPanel } from './panels/nodes-panel.js';
import { TimelinePanel } from './panels/timeline-panel.js';

const STATUS_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', 'needs-key': 'admin key needed' };

/** The whole page: header with connection state, then the four panels. */
export function App() {
  // Bumped when the key changes, which reconnects.
  const [keyVersion, setKeyVersion] = useState(0);
  const [view, setView] = useState<OpsView | undefined>(undefined);

  useEffect(() => {
    const connection = connectOps(setView);
    return () => connection.stop();
  }, [keyVersion]);

  const changeKey = (key: string | null) => {
    if (key) adminKey.set(key);
    else adminKey.forget();
    setKeyVersion((v) => v + 1);
  };

  const status = view?.status ?? 'connecting';
  registerFunctions([...(view?.state?.functions.map((f) => f.name) ?? []), ...(view?.timeline.functions() ?? [])]);
  return (
    <div class="page">
      <header class="top">
        <h1>Tidepool</h1>
        <span class={`conn conn-${status}`} data-status={status}>
          {STATUS_TEXT[status]}
        </span>
        {view?.problem && status !== 'needs-key' && <span class="problem">{view.problem}</span>}
        <span class="spacer" />
        {adminKey.get() && (
          <button type="button" class="link" onClick={() => changeKey(null)}>
            forget key
          </button>
        )}
      </header>
      {status === 'needs-key' || !view ? (
        <KeyForm problem={view?.problem} onKey={changeKey} />
      ) : (
        <main>
          <TimelinePanel store={view.timeline} />
          <div class="columns">
            <FunctionsPanel functions={view.state?.functions} />
            <NodesPanel nodes={view.state?.nodes} />
          </div>
          <InvocationsPanel rows={view.invocations} functions={view.state?.functions} />
        </main>
      )}
    </div>
  );
}
