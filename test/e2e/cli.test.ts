import { cp, mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightsDigestOf, collectModelFiles } from '../../platform/functions/artifact.js';
import { startE2eServer, type E2eServer } from './e2e-server.js';
import { ROOT, runCli, stderrLines } from './run-cli.js';

/** Runs the real `bin/tidepool.mjs` against the test server. */
function tidepool(server: Pick<E2eServer, 'url' | 'dataDir'>, args: readonly string[]) {
  return runCli(args, { TIDEPOOL_API_URL: server.url, TIDEPOOL_DATA_DIR: server.dataDir });
}

async function listBlobs(server: E2eServer): Promise<string[]> {
  const entries = await readdir(join(server.dataDir, 'objects'), { recursive: true }).catch(() => []);
  return entries.map(String).sort();
}

/** A function folder `<data dir>/<name>` deploying a copy of the tiny Llama fixture from `./model`. */
async function fixtureFunction(server: E2eServer, name: string): Promise<{ dir: string; model: string }> {
  const dir = join(server.dataDir, name);
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, 'test/fixtures/models/tiny-llama'), join(dir, 'model'), { recursive: true });
  await writeFile(join(dir, 'function.yaml'), `name: ${name}\nmodel: {path: ./model}\n`);
  return { dir, model: join(dir, 'model') };
}

describe('tidepool CLI end to end', () => {
  let server: E2eServer;
  beforeAll(async () => {
    server = await startE2eServer();
    console.log(`cli e2e: node is ${server.engine === 'cpu' ? 'the real CPU engine' : 'scripted (engine binary not built)'}`);
  });
  afterAll(async () => server?.close());

  it('deploys, lists, shows, invokes and removes a function', async () => {
    const deploy = await tidepool(server, ['deploy', 'functions/tiny-qwen', '--json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(JSON.parse(deploy.stdout)).toMatchObject({ name: 'tiny-qwen', version: 1, uploaded: 2, skipped: 0 });
    const again = await tidepool(server, ['deploy', 'functions/tiny-qwen', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2, uploaded: 0, skipped: 2 });

    const ls = await tidepool(server, ['ls']);
    expect(ls.stdout).toMatch(/tiny-qwen\s+v2/);
    const show = await tidepool(server, ['show', 'tiny-qwen', '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({
      name: 'tiny-qwen',
      active_version: 2,
      versions: [
        { version: 2, active: true },
        { version: 1, active: false },
      ],
    });

    const invoke = await tidepool(server, ['invoke', 'tiny-qwen', 'abc', '--max-tokens', '5']);
    expect(invoke.code, invoke.stderr).toBe(0);
    expect(invoke.stdout.length).toBeGreaterThan(0);
    const json = await tidepool(server, ['invoke', 'tiny-qwen', 'abc', '--max-tokens', '5', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ function: 'tiny-qwen', usage: { prompt_tokens: 3, completion_tokens: 5 } });

    expect((await tidepool(server, ['rm', 'tiny-qwen'])).stdout).toContain('deleted tiny-qwen');
    const gone = await tidepool(server, ['show', 'tiny-qwen']);
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain('function tiny-qwen does not exist');
  });

  it('prints ls and rm as JSON with their fields', async () => {
    const { dir } = await fixtureFunction(server, 'json-fn');
    expect((await tidepool(server, ['deploy', dir, '--json'])).code).toBe(0);
    const ls = await tidepool(server, ['ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = (JSON.parse(ls.stdout) as { name: string; updated_at: string }[]).find((f) => f.name === 'json-fn');
    const modelBytes = (await readFile(join(dir, 'model/config.json'))).length + (await readFile(join(dir, 'model/model.safetensors'))).length;
    expect(listed).toMatchObject({
      name: 'json-fn',
      active_version: 1,
      size_bytes: modelBytes,
      description: '',
      artifact_digest: expect.stringMatching(/^sha256:/),
    });
    expect(Number.isNaN(Date.parse(listed!.updated_at))).toBe(false);

    const rm = await tidepool(server, ['rm', 'json-fn', '--json']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(JSON.parse(rm.stdout)).toEqual({ name: 'json-fn', deleted: true });
    const after = JSON.parse((await tidepool(server, ['ls', '--json'])).stdout) as { name: string }[];
    expect(after.map((f) => f.name)).not.toContain('json-fn');
  });

  it('refuses an invalid manifest naming the field and uploads nothing', async () => {
    const { dir } = await fixtureFunction(server, 'bad-fn');
    await writeFile(join(dir, 'function.yaml'), 'name: bad-fn\nmodel: {path: ./model}\nslo: {tpot_ms: -5}\n');
    const blobsBefore = await listBlobs(server);
    const res = await tidepool(server, ['deploy', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('slo.tpot_ms: must be a positive integer');
    expect(stderrLines(res)).toHaveLength(1);
    expect(await listBlobs(server)).toEqual(blobsBefore);
  });

  it('refuses a truncated safetensors file with the reason and uploads nothing', async () => {
    const { dir, model } = await fixtureFunction(server, 'truncated-fn');
    const weights = join(model, 'model.safetensors');
    await truncate(weights, (await readFile(weights)).length - 1000);
    const blobsBefore = await listBlobs(server);
    const res = await tidepool(server, ['deploy', dir]);
    expect(res.code).toBe(1);
    expect(stderrLines(res)).toHaveLength(1);
    expect(res.stderr).toMatch(/^tidepool: invalid model in .*truncated-fn\/model: model\.safetensors: truncated/);
    expect(await listBlobs(server)).toEqual(blobsBefore);
  });

  it('refuses a config whose shapes do not match the tensors and uploads nothing', async () => {
    const { dir, model } = await fixtureFunction(server, 'mismatch-fn');
    const config = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(model, 'config.json'), JSON.stringify({ ...config, intermediate_size: 256 }));
    const blobsBefore = await listBlobs(server);
    const res = await tidepool(server, ['deploy', dir]);
    expect(res.code).toBe(1);
    expect(stderrLines(res)).toHaveLength(1);
    expect(res.stderr).toContain('tensor model.layers.0.mlp.gate_proj.weight in model.safetensors has shape [128, 64], expected [256, 64]');
    expect(await listBlobs(server)).toEqual(blobsBefore);
  });

  it('skips hidden files in the model folder', async () => {
    const { dir, model } = await fixtureFunction(server, 'hidden-fn');
    await writeFile(join(model, '._model.safetensors'), 'a resource fork a macOS copy left behind');
    const res = await tidepool(server, ['deploy', dir, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const outcome = JSON.parse(res.stdout) as { uploaded: number; skipped: number; artifactDigest: string };
    expect(outcome.uploaded + outcome.skipped).toBe(2);
    // The artifact is the fixture's own two files: its digest covers every file name it lists.
    expect(outcome.artifactDigest).toBe(weightsDigestOf(await collectModelFiles(join(ROOT, 'test/fixtures/models/tiny-llama'))));
  });

  it('reports an unreachable control plane in one line', async () => {
    const res = await tidepool({ ...server, url: 'http://127.0.0.1:9' }, ['ls']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^tidepool: cannot reach the control plane at http:\/\/127\.0\.0\.1:9/);
  });
});
