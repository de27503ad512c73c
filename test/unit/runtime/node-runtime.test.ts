import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait-for.js';
import { createLocalNodeRuntime, type LocalNodeRuntime } from '../../../runtime/node.js';
import type { LocalNodeRuntimeOptions } from '../../../runtime/node-options.js';
import type { Artifact, NodeEvent, NodeGenerateRequest } from '../../../protocol/node-runtime.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { digest } from '../../helpers/weights-digest.js';

// The node's plumbing (queue, cold start, scheduler, supervisor) over the stub engine, which answers each
// step with last token + 1. The real engine runs the same paths in test/integration/runtime/.
const stubEngine = fileURLToPath(new URL('./stub-engine.mjs', import.meta.url));
const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('local node runtime over the stub engine', () => {
  let root: string;
  let node: LocalNodeRuntime | undefined;
  let registry: Registry;
  let blobDelayMs = 0;
  let blobFailure: Error | undefined;

  const fetchBlob = async (digest: string, path: string) => {
    await new Promise((resolve) => setTimeout(resolve, blobDelayMs));
    if (blobFailure) throw blobFailure;
    await copyFile(join(root, 'blobs', digest.slice(7)), path);
  };

  async function artifact(name: string, fileName = 'model.safetensors'): Promise<Artifact> {
    const bytes = Buffer.from(`weights of ${name}`);
    await mkdir(join(root, 'blobs'), { recursive: true });
    await writeFile(join(root, 'blobs', sha(bytes).slice(7)), bytes);
    const files = [{ name: fileName, digest: sha(bytes), size: bytes.length }];
    return { weightsDigest: digest(sha(name)), files, bytes: bytes.length };
  }

  async function start(overrides: Partial<LocalNodeRuntimeOptions> = {}): Promise<LocalNodeRuntime> {
    node = await createLocalNodeRuntime({
      fetchBlob,
      shmDir: join(root, 'shm'),
      hostPoolBytes: 1 << 20,
      engineBin: stubEngine,
      backend: 'cpu',
      engineMemoryBytes: 1 << 20,
      queueLimit: 4,
      queueTimeoutMs: 5_000,
      registry,
      ...overrides,
    });
    return node;
  }

  const request = (model: Artifact, fields: Partial<NodeGenerateRequest> = {}): NodeGenerateRequest => ({
    id: 'r',
    functionName: 'fn',
    version: 1,
    artifact: model,
    promptTokens: [10],
    sampling: samplingWith({ max_tokens: 3 }),
    stopTokenIds: [],
    slo: { ttftMs: 1000, tpotMs: 100 },
    keepWarmMs: 60_000,
    ...fields,
  });

  async function collect(events: AsyncIterable<NodeEvent>): Promise<NodeEvent[]> {
    const out: NodeEvent[] = [];
    for await (const event of events) out.push(event);
    return out;
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tp-node-'));
    registry = new Registry();
    blobDelayMs = 0;
    blobFailure = undefined;
  });
  afterEach(async () => {
    await node?.close();
    node = undefined;
    delete process.env.STUB_ENGINE_STEP_MS;
    await rm(root, { recursive: true, force: true });
  });

  it('streams tokens then one done event, and reports the model on the GPU', async () => {
    const runtime = await start();
    const model = await artifact('a');
    expect(await collect(runtime.generate(request(model)))).toEqual([
      { type: 'token', token: 11 },
      { type: 'token', token: 12 },
      { type: 'token', token: 13 },
      { type: 'done', reason: 'length', promptTokens: 1, completionTokens: 3 },
    ]);
    expect(await runtime.residency()).toEqual([
      { weightsDigest: model.weightsDigest, functionName: 'fn', tier: 'gpu', bytes: model.bytes, queued: 0, running: 0 },
    ]);
    const scrape = await registry.metrics();
    expect(scrape).toMatch(/tidepool_model_loads_total\{tier="host"\} 1/);
    expect(scrape).toMatch(/tidepool_model_loads_total\{tier="gpu"\} 1/);
    expect(scrape).toMatch(new RegExp(`tidepool_host_pool_fetch_bytes_total ${model.bytes}`));
    expect(scrape).toMatch(new RegExp(`tidepool_model_residency_bytes\\{tier="gpu"\\} ${model.bytes}`));
    expect(scrape).toMatch(/tidepool_node_queue_depth\{function="fn"\} 0/);
  });

  it('counts a request as finished when its caller stops reading at done', async () => {
    const runtime = await start();
    const model = await artifact('a');
    // Three callers that read up to `done` and never call next() again (as the invoker did): the node must
    // not report them as running forever, nor keep their host leases.
    for (const id of ['x', 'y', 'z']) {
      const events = runtime.generate(request(model, { id }))[Symbol.asyncIterator]();
      for (let next = await events.next(); !next.done; next = await events.next()) if (next.value.type === 'done') break;
    }
    expect(await runtime.residency()).toEqual([
      { weightsDigest: model.weightsDigest, functionName: 'fn', tier: 'gpu', bytes: model.bytes, queued: 0, running: 0 },
    ]);
  });

  it('lists a function held warm but never invoked as host, then once as gpu when it has run', async () => {
    const runtime = await start();
    const model = await artifact('pinned');
    const listing = (tier: string) => [{ weightsDigest: model.weightsDigest, functionName: 'pinned', tier, bytes: model.bytes, queued: 0, running: 0 }];
    await runtime.holdWarm!('pinned', model, 0);
    expect(await runtime.residency()).toEqual(listing('host'));
    expect(runtime.warmHoldReport!()).toEqual([{ functionName: 'pinned', weightsDigest: model.weightsDigest }]);
    await collect(runtime.generate(request(model, { functionName: 'pinned' })));
    expect(await runtime.residency()).toEqual(listing('gpu'));
    await runtime.setWarmHolds!([]);
    expect(runtime.warmHoldReport!()).toEqual([]);
  });

  it('scales to zero: gpu, then host after the GPU idle timeout, then store after keep_warm_ms', async () => {
    const runtime = await start({ gpuIdleEvictMs: 150, policy: 'aegaeon-unified' });
    const model = await artifact('a');
    await collect(runtime.generate(request(model, { keepWarmMs: 300 })));
    const tierOf = async () => (await runtime.residency())[0]?.tier;
    const tiers = [await tierOf()];
    await waitFor(
      async () => {
        const tier = await tierOf();
        if (tier !== tiers.at(-1)) tiers.push(tier);
        return tier === 'store';
      },
      { timeoutMs: 30_000, intervalMs: 25, message: 'the model to scale down to the store tier' },
    );
    expect(tiers).toEqual(['gpu', 'host', 'store']);
    const scrape = await registry.metrics();
    expect(scrape).toMatch(/tidepool_model_residency\{function="fn",tier="store"\} 1/);
    expect(scrape).toMatch(/tidepool_model_residency\{function="fn",tier="gpu"\} 0/);
    expect(scrape).toMatch(/tidepool_scheduler_policy_info\{policy="aegaeon-unified"\} 1/);
  });

  it('interleaves two models at token granularity on one engine', async () => {
    process.env.STUB_ENGINE_STEP_MS = '25';
    const runtime = await start({ hostPoolBytes: 1e12 });
    // Declared like ~40 GB models so the scheduler's prior step cost (bytes-proportional) is near the stub's
    // 25 ms steps; with a few bytes it would plan a quota of billions of steps and never switch.
    const [a, b] = (await Promise.all([artifact('a'), artifact('b')])).map((m) => ({ ...m, bytes: 40e9 }));
    const arrivals: string[] = [];
    const run = async (name: string, model: Artifact, first: number) => {
      const tokens: number[] = [];
      for await (const event of runtime.generate(
        request(model, { functionName: name, promptTokens: [first], sampling: samplingWith({ max_tokens: 30 }), slo: { ttftMs: 300, tpotMs: 40 } }),
      )) {
        if (event.type === 'token') tokens.push(event.token);
        arrivals.push(name);
      }
      return tokens;
    };
    // Warm both onto the GPU first: a turn that pays a load is stretched to amortise it, which is not
    // what this test is about.
    for (const model of [a!, b!]) await collect(runtime.generate(request(model, { sampling: samplingWith({ max_tokens: 1 }) })));
    arrivals.length = 0;
    const [tokensA, tokensB] = await Promise.all([run('fa', a!, 100), run('fb', b!, 500)]);
    expect(tokensA).toEqual(Array.from({ length: 30 }, (_, i) => 101 + i));
    expect(tokensB).toEqual(Array.from({ length: 30 }, (_, i) => 501 + i));
    const switches = arrivals.filter((name, i) => i > 0 && name !== arrivals[i - 1]).length;
    expect(switches).toBeGreaterThanOrEqual(2);
  });

  it('refuses with queue_full and a retry hint when the function queue is full', async () => {
    const runtime = await start({ queueLimit: 1 });
    blobDelayMs = 200;
    const model = await artifact('a');
    const first = collect(runtime.generate(request(model)));
    await waitFor(async () => (await runtime.residency())[0]?.queued === 1, { message: 'the first request to take the one queue slot' });
    await expect(collect(runtime.generate(request(model)))).rejects.toMatchObject({ code: 'queue_full', retryAfterMs: expect.any(Number) });
    expect(await collect(runtime.generate(request(model, { functionName: 'other' })))).toHaveLength(4);
    expect((await first).at(-1)).toMatchObject({ reason: 'length' });
  });

  it('fails with cold_start_timeout when weights do not arrive in time', async () => {
    const runtime = await start({ queueTimeoutMs: 50 });
    blobDelayMs = 500;
    await expect(collect(runtime.generate(request(await artifact('a'))))).rejects.toMatchObject({ code: 'cold_start_timeout' });
  });

  it('fails with store_unavailable when the store cannot be read', async () => {
    const runtime = await start();
    blobFailure = new Error('connect ECONNREFUSED');
    await expect(collect(runtime.generate(request(await artifact('a'))))).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('refuses an artifact file name that could escape the model directory with bad_model, at once and without fetching', async () => {
    let fetches = 0;
    const runtime = await start({
      fetchBlob: async (digest, path) => {
        fetches++;
        await fetchBlob(digest, path);
      },
    });
    for (const name of ['../escape.safetensors', 'sub/model.safetensors', '..']) {
      const started = Date.now();
      await expect(collect(runtime.generate(request(await artifact(name, name))))).rejects.toMatchObject({
        code: 'bad_model',
        message: `model ${sha(name)} lists the file name ${JSON.stringify(name)}, which is not a plain file name; nothing was fetched`,
      });
      // The store retries (250 + 500 + 1000 ms of backoff) would make this take 1.75 s or more.
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect(fetches).toBe(0);
  });

  it('refuses with bad_model when the engine cannot load the weights', async () => {
    const runtime = await start();
    await expect(collect(runtime.generate(request(await artifact('broken', 'BAD_MODEL'))))).rejects.toMatchObject({
      code: 'bad_model',
      message: expect.stringMatching(/unsupported architecture/),
    });
    expect((await collect(runtime.generate(request(await artifact('a'))))).at(-1)).toMatchObject({ reason: 'length' });
  });

  it('refuses with engine_down when a device fault ends the request before its first token', async () => {
    const runtime = await start();
    // The node resubmits an engine_down refusal once to the restarted engine, where this model faults again
    // (or finds the engine still restarting), so the message is the last attempt's; the code is what counts.
    await expect(collect(runtime.generate(request(await artifact('faulty', 'DEVICE_LOST'))))).rejects.toMatchObject({
      code: 'engine_down',
      message: expect.stringMatching(/^(device_lost|engine_down): /),
    });
  });

  it('ends the stream with cancelled when the caller aborts mid-stream', async () => {
    process.env.STUB_ENGINE_STEP_MS = '20';
    const runtime = await start();
    const controller = new AbortController();
    const events: NodeEvent[] = [];
    for await (const event of runtime.generate(request(await artifact('a'), { sampling: samplingWith({ max_tokens: 1000 }) }), controller.signal)) {
      events.push(event);
      if (events.length === 2) controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'cancelled' });
    expect(events.length).toBeLessThan(10);
  });

  it('ends in-flight streams with an error when the engine dies and serves the next request after restart', async () => {
    process.env.STUB_ENGINE_STEP_MS = '20';
    const runtime = await start();
    const model = await artifact('a');
    const events: NodeEvent[] = [];
    for await (const event of runtime.generate(request(model, { sampling: samplingWith({ max_tokens: 1000 }) }))) {
      events.push(event);
      if (events.length === 2) {
        process.kill(runtime.enginePid()!, 'SIGKILL');
      }
    }
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      reason: 'error',
      error: { code: 'engine_down', message: expect.stringMatching(/engine process was killed by SIGKILL/) },
    });
    console.log(`engine death as the caller sees it: ${(events.at(-1) as Extract<NodeEvent, { type: 'done' }>).error?.message}`);
    expect((await collect(runtime.generate(request(model)))).at(-1)).toMatchObject({ reason: 'length', completionTokens: 3 });
    expect(await registry.getSingleMetricAsString('tidepool_engine_restarts_total')).toMatch(/ 1$/m);
  });
});
