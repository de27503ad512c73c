import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { InvocationRecord } from './invocation-recorder.js';

/**
 * Invocations in flight, kept in a small file beside the data (local mode: `<data dir>/inflight.json`), so
 * the ones a crash cuts short (SIGKILL, OOM kill, power loss) still get a record: the next start reads what
 * the file lists and records each as `error`. An invocation's own record supersedes this one (the insert
 * skips ids already stored), so only invocations that never got theirs are added.
 *
 * The file is rewritten at most once per `intervalMs` and only when the set changed, off the request path.
 * What the file cannot know: an invocation that started after its last rewrite before the crash (at most
 * `intervalMs` of the newest ones) has no record; one that finished in that window but whose record was still
 * in the recorder's buffer is recorded as interrupted.
 */
export interface InflightJournal {
  begin(entry: InflightEntry): void;
  end(id: string): void;
  /** Writes the last state (nothing in flight after a clean drain: the file is removed) and stops. */
  close(): Promise<void>;
}

export interface InflightEntry {
  readonly id: string;
  readonly functionName: string;
  readonly version: number;
  readonly apiKeyId: string | null;
  readonly nodeId: string | null;
  readonly promptTokens: number;
  /** `Date.now()` at arrival. */
  readonly startedMs: number;
}

export const INTERRUPTED_MESSAGE =
  'interrupted: the process serving this invocation ended (crash, kill or power loss) before it finished or before its record was written; recorded when the data directory was opened again';

export function createInflightJournal(options: { readonly path: string; readonly intervalMs?: number }): InflightJournal {
  const inflight = new Map<string, InflightEntry>();
  let dirty = false;
  let writing: Promise<void> = Promise.resolve();
  const write = (): Promise<void> =>
    (writing = writing
      .then(async () => {
        if (!dirty) return;
        dirty = false;
        if (inflight.size === 0) return rm(options.path, { force: true });
        // Beside and renamed over: a crash mid-write leaves the previous list, never half of one.
        const temp = `${options.path}.tmp`;
        await writeFile(temp, JSON.stringify([...inflight.values()]));
        await rename(temp, options.path);
      })
      .catch(() => undefined));
  const timer = setInterval(() => void write(), options.intervalMs ?? 250);
  timer.unref();
  return {
    begin(entry) {
      inflight.set(entry.id, entry);
      dirty = true;
    },
    end(id) {
      if (inflight.delete(id)) dirty = true;
    },
    async close() {
      clearInterval(timer);
      dirty = true;
      await write();
    },
  };
}

/**
 * Reads and removes the journal a previous process left, returning one `error` record per invocation it
 * lists, finished at the file's last write (the last moment that process was known to be alive).
 */
export async function takeInterruptedInvocations(path: string): Promise<InvocationRecord[]> {
  let text: string;
  let finishedAt: Date;
  try {
    [text, finishedAt] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtime)]);
  } catch {
    return [];
  }
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    entries = [];
  }
  await rm(path, { force: true });
  return (Array.isArray(entries) ? entries : []).filter(isEntry).map((entry) => ({
    id: entry.id,
    functionName: entry.functionName,
    version: entry.version,
    apiKeyId: entry.apiKeyId,
    nodeId: entry.nodeId,
    status: 'error',
    promptTokens: entry.promptTokens,
    completionTokens: 0,
    ttftMs: null,
    tpotMs: null,
    sloAttainment: 0,
    sloMet: false,
    error: INTERRUPTED_MESSAGE,
    startedAt: new Date(entry.startedMs),
    finishedAt,
  }));
}

function isEntry(value: unknown): value is InflightEntry {
  const e = value as Partial<InflightEntry> | null;
  return (
    typeof e?.id === 'string' &&
    typeof e.functionName === 'string' &&
    Number.isSafeInteger(e.version) &&
    Number.isSafeInteger(e.promptTokens) &&
    Number.isFinite(e.startedMs)
  );
}
