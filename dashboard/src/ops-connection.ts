import type { ClusterTimeline } from '../../platform/api/ops-timeline-types.js';
import { ApiError, readEvents } from './api.js';
import type { OpsInvocation, OpsInvocationPage, OpsState } from '../../platform/ops/ops-types.js';
import { TimelineStore } from './timeline-store.js';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'needs-key';

export interface OpsView {
  readonly status: ConnectionStatus;
  /** Why the page is not live: the server's refusal, or the broken connection. */
  readonly problem?: string;
  readonly state?: OpsState;
  readonly invocations?: readonly OpsInvocation[];
  readonly timeline: TimelineStore;
  /** Bumped on every timeline event, so views redraw. */
  readonly timelineVersion: number;
}

const RETRY_MS = [1_000, 2_000, 5_000];

/**
 * Keeps one `/v1/ops/events` stream open and folds its events into an `OpsView`. A dropped stream is
 * reopened with backoff (and the timeline reloaded whole, so nothing is missed); a 401/403 stops and asks
 * for a key instead of retrying.
 */
export function connectOps(onView: (view: OpsView) => void): { stop(): void } {
  const timeline = new TimelineStore();
  let view: OpsView = { status: 'connecting', timeline, timelineVersion: 0 };
  const abort = new AbortController();
  const update = (patch: Partial<OpsView>) => {
    view = { ...view, ...patch };
    onView(view);
  };

  const onEvent = (name: string, data: unknown) => {
    if (name === 'timeline') {
      timeline.add(data as ClusterTimeline);
      update({ status: 'live', problem: undefined, timelineVersion: view.timelineVersion + 1 });
    } else if (name === 'state') {
      update({ state: data as OpsState });
    } else if (name === 'invocations') {
      update({ invocations: (data as OpsInvocationPage).data });
    } else if (name === 'problem') {
      update({ problem: (data as { message: string }).message });
    }
  };

  void (async () => {
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      timeline.clear();
      try {
        await readEvents('/v1/ops/events', onEvent, abort.signal);
        attempt = 0;
      } catch (error) {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.needsKey) return update({ status: 'needs-key', problem: error.message });
        update({ status: 'reconnecting', problem: (error as Error).message });
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
    }
  })();
  onView(view);
  return { stop: () => abort.abort() };
}
