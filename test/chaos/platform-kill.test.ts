import { existsSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INTERRUPTED_MESSAGE } from '../../platform/functions/inflight-journal.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { complete } from '../faults/fault-plane.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { finishedCleanly, openStream } from './streams.js';
import { waitFor } from '../helpers/wait-for.js';
import { enginesOf, leftoversOf, socketDirsOf, startUp, type UpProcess } from './up-process.js';

if (!ENGINE_BUILT) console.log(`skip: chaos scenarios need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

/** How long a dead platform's engine may outlive it: the engine notices its parent is gone and exits. */
const ORPHAN_GRACE_MS = 10_000;

// `kill -9` of `tidepool up` while a deploy uploads a blob and two streams run. Nothing of the dead process
// may survive: the clients' connections end (no hang), and the next start on the same data directory takes
// over its lock, removes its partial upload and engine socket directory, and records the cut streams as
// interrupted. Its engine must exit on its own once its parent is gone (the engine's parent-death exit).
describe.skipIf(!ENGINE_BUILT)('chaos: the platform is killed with SIGKILL', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  const ups: UpProcess[] = [];
  let killedPid = 0;

  afterAll(async () => {
    for (const up of ups) if (existsSync(`/proc/${up.pid}`)) await up.stop();
    // Whatever the outcome, leave no engine of the killed process running on the machine.
    for (const pid of killedPid ? enginesOf(killedPid) : []) process.kill(pid, 'SIGKILL');
    await work?.remove();
  });

  it('during a deploy and during streaming: clients are cut, the next start cleans up and records them', { timeout: 240_000 }, async () => {
    work = await makeTempDir('tidepool-chaos-kill');
    const options = { dataDir: join(work.dir, 'data'), shmRoot: join(work.dir, 'shm') };
    const first = await startUp(options);
    ups.push(first);
    killedPid = first.pid;
    const streams = await Promise.all([0, 1].map(() => openStream(first.url, { model: 'tiny-chat', max_tokens: 1500 })));
    const upload = startSlowUpload(first.url);
    const incoming = join(options.dataDir, 'objects', '.incoming');
    await waitFor(
      async () => {
        const parts = await readdir(incoming).catch(() => []);
        return parts.length === 1 && (await stat(join(incoming, parts[0]!))).size > 0;
      },
      { message: 'the upload writing its part file', timeoutMs: 30_000 },
    );
    const streamIds = streams.map((s) => s.id);
    await waitFor(
      () => {
        const journal = join(options.dataDir, 'inflight.json');
        return existsSync(journal) && streamIds.every((id) => readFileSync(journal, 'utf8').includes(id));
      },
      { message: 'both streams in the in-flight journal', timeoutMs: 30_000 },
    );
    await first.kill9();

    // What the clients saw: connections cut, nothing hangs.
    const ends = await Promise.all(streams.map((s) => s.rest()));
    for (const end of ends) expect(finishedCleanly(end.text)).toBe(false);
    expect(await upload).toMatch(/fetch failed|terminated|socket|ECONNRESET|other side closed/i);

    const second = await startUp({ ...options, examples: false });
    ups.push(second);
    expect(JSON.parse(readFileSync(join(options.dataDir, 'tidepool.lock'), 'utf8'))).toMatchObject({ pid: second.pid });
    // Each at warn, in the readable lines of `tidepool up` (`HH:MM:SS.mmm warn  <message>`).
    expect(second.log).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ warn {2}removed 1 partial upload\(s\) left by processes that died \(\d+ bytes\)$/),
        // Other dead processes' directories on this machine may be removed with it.
        expect.stringMatching(new RegExp(` warn {2}removed \\d+ engine socket director(y|ies) left by processes that died: .*tidepool-engine-${killedPid}-`)),
        expect.stringMatching(/ warn {2}recorded 2 invocation\(s\) the previous process left in flight as error \(interrupted\)$/),
      ]),
    );
    expect(socketDirsOf(killedPid)).toEqual([]);
    expect(await readdir(incoming)).toEqual([]);
    const rows = await waitFor(
      async () => {
        const data = (
          (await (await fetch(`${second.url}/v1/invocations?function=tiny-chat&limit=100`)).json()) as {
            data: { id: string; status: string; error: string | null }[];
          }
        ).data;
        const cut = data.filter((r) => streamIds.includes(r.id));
        return cut.length === 2 ? cut : undefined;
      },
      { message: 'the interrupted streams recorded', timeoutMs: 30_000 },
    );
    for (const row of rows) expect(row).toMatchObject({ status: 'error', error: INTERRUPTED_MESSAGE });
    expect((await complete(second.url, { max_tokens: 4 })).status).toBe(200);
    expect(await second.stop()).toBe(0);
    expect(leftoversOf(second.pid, options.dataDir)).toEqual([]);
    console.log(
      `platform ${killedPid} killed mid-upload and mid-stream: clients cut at once; the restart took over its lock, removed its partial upload and socket directory, recorded 2 interrupted invocations`,
    );
  });

  // The engine's half: an engine whose platform died exits by itself (a parent-death signal and a socket
  // watchdog in the engine process), so no engine holds a GPU for a platform that is gone.
  it('leaves no engine of the killed platform running', { timeout: 60_000 }, async () => {
    expect(killedPid, 'the kill scenario above did not run').toBeGreaterThan(0);
    const gone = await waitFor(() => enginesOf(killedPid).length === 0, { message: "the dead platform's engines to exit", timeoutMs: ORPHAN_GRACE_MS }).catch(
      () => false,
    );
    expect(
      gone ? [] : enginesOf(killedPid),
      `engine process(es) of the killed platform ${killedPid} still running ${ORPHAN_GRACE_MS} ms after it died`,
    ).toEqual([]);
  });
});

/**
 * PUTs a blob whose body sends 4 MiB and then waits forever, as a deploy uploading a large file does between
 * chunks. Resolves with the fetch's failure message once the server goes away.
 */
async function startSlowUpload(url: string): Promise<string> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(4 << 20));
    },
  });
  try {
    const res = await fetch(`${url}/v1/blobs/sha256:${'ab'.repeat(32)}`, {
      method: 'PUT',
      body,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(64 << 20) },
      duplex: 'half',
    } as RequestInit);
    return `answered ${res.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `${(error as Error).message} ${cause?.code ?? ''} ${cause?.message ?? ''}`;
  }
}
