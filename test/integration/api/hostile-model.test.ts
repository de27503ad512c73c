import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../../cli/api-client.js';
import { deployFunction } from '../../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../../cli/function-dir.js';
import { collectModelFiles } from '../../../platform/functions/artifact.js';
import { buildTinyTokenizer } from '../../../platform/models/tiny-tokenizer.js';
import { startE2eServer, type E2eServer } from '../../e2e/e2e-server.js';
import { runCli } from '../../e2e/run-cli.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { FIXTURE_QWEN } from './api-helpers.js';

const HOSTILE_CONFIG = join(import.meta.dirname, '../../fixtures/hostile/config.json');
const FIELD = /num_hidden_layers 1000000 exceeds the limit of 1024/;

// The config.json that once froze the control plane for 75 s (num_hidden_layers: 1000000) is refused at
// once with a 4xx naming the field, through the API and through the CLI, while /healthz and another
// function keep answering. The server runs in this process, so its event loop is measured directly.
describe('a hostile model at deploy', () => {
  let server: E2eServer;
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let hostileDir: string;

  beforeAll(async () => {
    server = await startE2eServer();
    work = await makeTempDir('tidepool-hostile');
    const tenant = join(work.dir, 'tenant');
    await mkdir(tenant);
    await writeFile(join(tenant, 'function.yaml'), `name: tenant\nmodel: {path: ${FIXTURE_QWEN}}\n`);
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir(tenant, work.dir), { progress: false });
    hostileDir = join(work.dir, 'hostile');
    await mkdir(join(hostileDir, 'model'), { recursive: true });
    await cp(join(FIXTURE_QWEN, 'model.safetensors'), join(hostileDir, 'model', 'model.safetensors'));
    await cp(HOSTILE_CONFIG, join(hostileDir, 'model', 'config.json'));
    await writeFile(join(hostileDir, 'function.yaml'), 'name: hostile\nmodel: {path: ./model}\n');
  });
  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  it('answers the API with 422 naming the field within a second, while other requests keep being served', async () => {
    const files = await collectModelFiles(join(hostileDir, 'model'));
    for (const f of files) {
      const res = await fetch(`${server.url}/v1/blobs/${f.digest}`, { method: 'PUT', body: await readFile(join(hostileDir, 'model', f.name)) });
      expect(res.ok).toBe(true);
    }
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let deploying = true;
    const probe = async (path: string, init?: RequestInit) => {
      const latencies: number[] = [];
      while (deploying || latencies.length === 0) {
        const started = performance.now();
        const res = await fetch(`${server.url}${path}`, init);
        await res.text();
        expect(res.status).toBe(200);
        latencies.push(performance.now() - started);
      }
      return latencies;
    };
    const health = probe('/healthz');
    const tenant = probe('/v1/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tenant', prompt: 'hi', max_tokens: 2 }),
    });
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/functions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ manifest: { name: 'hostile', model: { path: '.' } }, files }),
    });
    const elapsedMs = performance.now() - started;
    deploying = false;
    const [healthMs, tenantMs] = await Promise.all([health, tenant]);
    loop.disable();
    const body = (await res.json()) as { error: { code: string; message: string; param: string } };
    expect(res.status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_model', param: 'config.json', message: expect.stringMatching(FIELD) });
    expect(elapsedMs).toBeLessThan(1000);
    // A blocked event loop delays everything at once; 75 s blocked was the failure, a loaded CI runner's
    // scheduling noise stays far below a second.
    expect(loop.max / 1e6).toBeLessThan(1000);
    expect(Math.max(...healthMs)).toBeLessThan(1000);
    console.log(
      `hostile deploy refused in ${elapsedMs.toFixed(0)} ms; event loop max delay ${(loop.max / 1e6).toFixed(0)} ms; ` +
        `/healthz max ${Math.max(...healthMs).toFixed(0)} ms over ${healthMs.length} probes; tenant completions max ${Math.max(...tenantMs).toFixed(0)} ms over ${tenantMs.length}`,
    );
    const listed = (await (await fetch(`${server.url}/v1/functions`)).json()) as { data: { name: string }[] };
    expect(listed.data.map((f) => f.name)).toEqual(['tenant']);
  });

  it.each([
    {
      what: 'a tokenizer that emits ids beyond the vocabulary',
      files: { 'tokenizer.json': JSON.stringify(buildTinyTokenizer().json) },
      param: 'tokenizer.json',
      message: /tokenizer.json: .* has id 2795, outside the model's vocabulary of 320/,
    },
    {
      what: 'a context the engine cannot serve',
      files: {
        'config.json': async () =>
          JSON.stringify({ ...JSON.parse(await readFile(join(FIXTURE_QWEN, 'config.json'), 'utf8')), max_position_embeddings: 2 ** 31 - 1 }),
      },
      param: 'config.json',
      message: /max_position_embeddings 2147483647 exceeds the limit of 1048576/,
    },
  ])('refuses $what at deploy with 422', async ({ files: extra, param, message }) => {
    const dir = join(work.dir, `case-${param}`);
    await cp(FIXTURE_QWEN, dir, { recursive: true });
    for (const [name, content] of Object.entries(extra)) await writeFile(join(dir, name), typeof content === 'string' ? content : await content());
    const files = await collectModelFiles(dir);
    for (const f of files) await fetch(`${server.url}/v1/blobs/${f.digest}`, { method: 'PUT', body: await readFile(join(dir, f.name)) });
    const res = await fetch(`${server.url}/v1/functions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ manifest: { name: 'mismatched', model: { path: '.' } }, files }),
    });
    const body = (await res.json()) as { error: { code: string; message: string; param: string } };
    expect(res.status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_model', param, message: expect.stringMatching(message) });
  });

  it('answers the CLI with one line naming the field, before anything is uploaded', async () => {
    const before = (await server.blobs.list()).length;
    // A config the store has not seen (other bytes), so an upload would show in the listing.
    const config = JSON.parse(await readFile(HOSTILE_CONFIG, 'utf8')) as Record<string, unknown>;
    await writeFile(join(hostileDir, 'model', 'config.json'), JSON.stringify({ ...config, rms_norm_eps: 1e-5 }));
    const run = await runCli(['deploy', hostileDir], { TIDEPOOL_API_URL: server.url, TIDEPOOL_DATA_DIR: work.dir });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(FIELD);
    expect(lines[0]).not.toMatch(/Invalid string length|RangeError/);
    expect((await server.blobs.list()).length).toBe(before);
  });
});
