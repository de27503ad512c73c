import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectModelFiles } from '../../platform/functions/artifact.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { complete, type Answer } from '../faults/fault-plane.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { finishedCleanly, lastFrame, openStream } from './streams.js';
import { waitFor } from '../helpers/wait-for.js';
import { leftoversOf, startUp, type UpProcess } from './up-process.js';

if (!ENGINE_BUILT) console.log(`skip: chaos scenarios need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

const FIXTURES = join(import.meta.dirname, '../fixtures');
/** Enough that some are still waiting for a turn when the engine dies, on a quiet machine too. */
const QUEUED_PER_MODEL = 8;

// One `tidepool up` process taken through three faults while it serves two models: a hostile model deployed
// during traffic, the engine killed under mixed traffic, and its shared memory wiped. Each checks what the
// clients saw and what was recorded; at the end the instance stops and leaves nothing behind.
describe.skipIf(!ENGINE_BUILT)('chaos: a running instance', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let up: UpProcess;
  const shmRoot = () => join(work.dir, 'shm');

  beforeAll(async () => {
    work = await makeTempDir('tidepool-chaos-run');
    up = await startUp({ dataDir: join(work.dir, 'data'), shmRoot: shmRoot() });
    expect((await complete(up.url, { model: 'tiny-qwen' })).status).toBe(200);
    expect((await complete(up.url, {})).status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    if (up) await up.stop();
    await work?.remove();
  });

  it('refuses a hostile model at once while streams and other calls keep going', { timeout: 120_000 }, async () => {
    const streams = await Promise.all([
      openStream(up.url, { model: 'tiny-chat', max_tokens: 120 }),
      openStream(up.url, { model: 'tiny-qwen', max_tokens: 120 }),
    ]);
    const dir = join(work.dir, 'hostile');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    await import('node:fs/promises').then((fs) =>
      Promise.all([
        fs.copyFile(join(FIXTURES, 'hostile/config.json'), join(dir, 'config.json')),
        fs.copyFile(join(FIXTURES, 'models/tiny-qwen2/model.safetensors'), join(dir, 'model.safetensors')),
      ]),
    );
    const files = await collectModelFiles(dir);
    for (const f of files) await fetch(`${up.url}/v1/blobs/${f.digest}`, { method: 'PUT', body: await readFile(join(dir, f.name)) });
    let deploying = true;
    const health = (async () => {
      let probes = 0;
      while (deploying || probes === 0) {
        const res = await fetch(`${up.url}/healthz`);
        expect(res.status).toBe(200);
        await res.text();
        probes++;
      }
      return probes;
    })();
    const started = performance.now();
    const res = await fetch(`${up.url}/v1/functions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ manifest: { name: 'hostile', model: { path: '.' } }, files }),
    });
    const refusedMs = performance.now() - started;
    deploying = false;
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(422);
    expect(body.error.message).toMatch(/num_hidden_layers 1000000 exceeds the limit of 1024/);
    expect(await health).toBeGreaterThan(0);
    const ends = await Promise.all(streams.map((s) => s.rest()));
    for (const end of ends) expect(finishedCleanly(end.text), end.text.slice(-300)).toBe(true);
    console.log(`hostile model refused in ${refusedMs.toFixed(0)} ms (422) while two streams ran to [DONE]`);
  });

  it('strands nothing when the engine is killed under mixed traffic of two models', { timeout: 120_000 }, async () => {
    const streams = await Promise.all([0, 1].map(() => openStream(up.url, { model: 'tiny-chat', max_tokens: 1500 })));
    const queued: Promise<Answer>[] = [];
    for (let i = 0; i < QUEUED_PER_MODEL; i++) {
      queued.push(complete(up.url, { model: 'tiny-qwen', max_tokens: 32 }), complete(up.url, { model: 'tiny-chat', max_tokens: 32 }));
    }
    // One read of the node's queue gauge shows requests of both models waiting for their first token.
    await waitFor(
      async () => {
        const metrics = await (await fetch(`${up.url}/metrics`)).text();
        const depth = (name: string) => Number(new RegExp(`^tidepool_node_queue_depth\\{function="${name}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
        return depth('tiny-qwen') > 0 && depth('tiny-chat') > 0;
      },
      { message: 'requests of both models queued', timeoutMs: 30_000 },
    );
    const [engine] = up.enginePids();
    const killedAt = performance.now();
    process.kill(engine!, 'SIGKILL');
    const answers = await Promise.all(queued);
    const lastAnswerMs = performance.now() - killedAt;
    const ends = await Promise.all(streams.map((s) => s.rest()));
    // Requests with no token yet are resubmitted and served; one the engine was already generating when it
    // died fails at once with a retryable 503 engine_down (a stream: its error frame).
    for (const answer of answers) {
      if (answer.status === 200) continue;
      expect(answer.status, answer.body).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'engine_down', message: expect.stringMatching(/killed by SIGKILL/) } });
    }
    for (const end of ends) {
      if (finishedCleanly(end.text)) continue;
      expect(lastFrame(end.text)).toMatchObject({ error: { code: 'engine_down', message: expect.stringMatching(/killed by SIGKILL/) } });
    }
    // Logged at the default level: which engine, how it ended, and that it came back.
    await waitFor(() => up.log.some((l) => / info +engine is back .* device="cpu engine 0"$/.test(l)), {
      message: 'the crash and recovery in the log',
      timeoutMs: 30_000,
    });
    expect(up.log.find((l) => l.includes('engine crashed'))).toMatch(
      / warn +engine crashed: engine process was killed by SIGKILL \(pid \d+\) after [\d.]+ s up; .*restarting in \d+ ms device="cpu engine 0"$/,
    );
    expect(up.enginePids()).toHaveLength(1);
    expect(up.enginePids()).not.toContain(engine);
    const served = answers.filter((a) => a.status === 200).length;
    expect(served).toBeGreaterThan(0);
    console.log(
      `engine killed: of ${answers.length} requests of two models, ${served} served (resubmitted), ${answers.length - served} refused with 503 engine_down mid-generation; the last answer ${lastAnswerMs.toFixed(0)} ms after the kill`,
    );
  });

  it('refetches models whose shared memory was wiped under it, with no failed request', { timeout: 120_000 }, async () => {
    const [namespace] = await readdir(shmRoot());
    await rm(join(shmRoot(), namespace!), { recursive: true, force: true });
    for (const model of ['tiny-qwen', 'tiny-chat']) expect(await complete(up.url, { model, max_tokens: 4 }), model).toMatchObject({ status: 200 });
    const metrics = await (await fetch(`${up.url}/metrics`)).text();
    const vanished = Number(/^tidepool_host_pool_files_vanished_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(vanished).toBe(2);
    expect((await readdir(join(shmRoot(), namespace!))).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(2);
    console.log(`shared memory wiped: both models fetched again, ${vanished} vanished-files refetches counted, every request 200`);
  });

  it('records every request, then stops and leaves nothing behind', { timeout: 120_000 }, async () => {
    const recorded = async () =>
      ((await (await fetch(`${up.url}/v1/invocations?limit=1000`)).json()) as { data: { status: string; error: string | null }[] }).data;
    // 2 warm-up + 2 hostile-phase streams + 2 killed streams + the queued ones + 2 after the wipe; records land in batches.
    const total = 2 + 2 + 2 + 2 * QUEUED_PER_MODEL + 2;
    const rows = await waitFor(
      async () => {
        const now = await recorded();
        return now.length >= total ? now : undefined;
      },
      { message: 'every request recorded', timeoutMs: 30_000 },
    );
    expect(rows).toHaveLength(total);
    for (const row of rows.filter((r) => r.status === 'rejected' || r.status === 'error')) expect(row.error).toMatch(/engine_down/);
    const pid = up.pid;
    expect(await up.stop()).toBe(0);
    await waitFor(() => leftoversOf(pid, up.dataDir).length === 0, { message: 'engines gone', timeoutMs: 10_000 }).catch(() => undefined);
    expect(leftoversOf(pid, up.dataDir)).toEqual([]);
  });
});
