import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../../cli/api-client.js';
import { deployFunction } from '../../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../../cli/function-dir.js';
import { ENGINE_BIN, ENGINE_BUILT, startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { waitFor } from '../../helpers/wait-for.js';

/** The value of one sample in Prometheus text, e.g. `tidepool_ttft_seconds_count{function="tiny-chat"}`; 0 when absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

if (!ENGINE_BUILT) console.log(`skip: engine-api tests need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// The real app on PGlite, the filesystem store and the real CPU engine, with the synthesized tiny-chat model.
describe.skipIf(!ENGINE_BUILT)('API on the real CPU engine', () => {
  let server: E2eServer;
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
  });
  afterAll(async () => server?.close());

  it('chats through the native invoke route, greedy and repeatable', async () => {
    const body = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0 };
    const a = await request(server.url).post('/v1/functions/tiny-chat/invoke').send(body).expect(200);
    const b = await request(server.url).post('/v1/functions/tiny-chat/invoke').send(body).expect(200);
    expect(a.body.text.length).toBeGreaterThan(0);
    expect(b.body.text).toBe(a.body.text);
    expect(a.body.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('cancels the generation when the client disconnects and records it', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/functions/tiny-chat/invoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({ prompt: 'a', max_tokens: 1500, ignore_eos: true, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    const rows = await waitFor(
      async () => {
        await server.plane.recorder.flush();
        const cancelled = await server.database.db.selectFrom('invocations').selectAll().where('status', '=', 'cancelled').execute();
        return cancelled.length > 0 ? cancelled : undefined;
      },
      { intervalMs: 25, message: 'the cancelled invocation to be recorded' },
    );
    expect(rows.length).toBe(1);
    expect(rows[0]!.completion_tokens).toBeLessThan(1500);
  });

  it('shows the function resident after use', async () => {
    const show = await request(server.url).get('/v1/functions/tiny-chat').expect(200);
    expect(['gpu', 'host']).toContain(show.body.residency[0].tier);
  });

  /** `POST /v1/completions` on tiny-chat; returns the completion text. */
  async function complete(params: Record<string, unknown>): Promise<string> {
    const res = await request(server.url)
      .post('/v1/completions')
      .send({ model: 'tiny-chat', prompt: 'The river', max_tokens: 16, ...params });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.usage.completion_tokens).toBe(16);
    return res.body.choices[0].text as string;
  }

  it('samples the same text for the same seed and other text for another seed', async () => {
    const sampled = { temperature: 1, top_p: 1 };
    const a = await complete({ ...sampled, seed: 11 });
    expect(await complete({ ...sampled, seed: 11 })).toBe(a);
    expect(await complete({ ...sampled, seed: 12 })).not.toBe(a);
    expect(a).not.toBe(await complete({ temperature: 0 }));
  });

  it('keeps only the most likely token when top_p is tiny, so it decodes greedily', async () => {
    const greedy = await complete({ temperature: 0 });
    expect(await complete({ temperature: 1, top_p: 1e-4, seed: 5 })).toBe(greedy);
    expect(await complete({ temperature: 1, top_p: 1e-4, seed: 6 })).toBe(greedy);
  });

  it('answers GET /healthz with its status, node and database', async () => {
    const res = await request(server.url).get('/healthz').expect(200).expect('Content-Type', /json/);
    expect(res.body).toEqual({ status: 'ok', nodes: [{ id: server.node.nodeId, models: expect.any(Number) }], database: 'pglite' });
    expect(res.body.nodes[0].models).toBeGreaterThanOrEqual(1);
  });

  it('exposes TTFT and TPOT histograms per function and the model loads of the cold start on /metrics', async () => {
    const before = (await request(server.url).get('/metrics').expect(200)).text;
    const ttftCount = 'tidepool_ttft_seconds_count{function="tiny-chat"}';
    const tpotCount = 'tidepool_tpot_seconds_count{function="tiny-chat"}';
    for (let i = 0; i < 3; i++) await complete({ temperature: 0 });
    const after = (await request(server.url).get('/metrics').expect(200)).text;
    expect(sample(after, ttftCount) - sample(before, ttftCount)).toBe(3);
    expect(sample(after, tpotCount) - sample(before, tpotCount)).toBe(3);
    expect(sample(after, 'tidepool_ttft_seconds_sum{function="tiny-chat"}')).toBeGreaterThan(0);
    expect(sample(after, 'tidepool_tpot_seconds_sum{function="tiny-chat"}')).toBeGreaterThan(0);
    expect(after).toMatch(/^tidepool_ttft_seconds_bucket\{le="\+Inf",function="tiny-chat"\} \d+$/m);

    // The first request cold-started the model: store → host pool, then host → engine ("gpu" tier).
    const { size_bytes: artifactBytes } = (await request(server.url).get('/v1/functions/tiny-chat').expect(200)).body as { size_bytes: number };
    for (const tier of ['host', 'gpu']) {
      const loads = sample(after, `tidepool_model_loads_total{tier="${tier}"}`);
      expect(loads, tier).toBeGreaterThanOrEqual(1);
      expect(sample(after, `tidepool_model_load_seconds_count{tier="${tier}"}`), tier).toBe(loads);
      expect(sample(after, `tidepool_model_load_seconds_sum{tier="${tier}"}`), tier).toBeGreaterThan(0);
      expect(sample(after, `tidepool_model_load_bytes_total{tier="${tier}"}`), tier).toBeGreaterThan(0);
    }
    expect(sample(after, 'tidepool_model_load_bytes_total{tier="host"}')).toBe(artifactBytes * sample(after, 'tidepool_model_loads_total{tier="host"}'));
  });
});
