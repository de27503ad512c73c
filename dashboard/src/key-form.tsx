import { useState } from 'preact/hooks';

/** Asks for an admin API key once; the page keeps it for this tab only (sessionStorage). */
export function KeyForm({ problem, onKey }: { problem?: string; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="panel key-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (key.trim()) onKey(key.trim());
      }}
    >
      <h2>Admin API key</h2>
      <p>
        This control plane requires an API key with the <code>admin</code> scope to show its dashboard.
      </p>
      {problem && (
        <p class="bad" role="alert">
          {problem}
        </p>
      )}
      <label>
        Key
        <input name="key" type="password" autocomplete="off" placeholder="tp_…" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Connect</button>
      <p class="dim">
        Create one with <code>tidepool keys create --name dashboard --scope admin</code>. It is kept in this tab's session storage only.
      </p>
    </form>
  );
}
