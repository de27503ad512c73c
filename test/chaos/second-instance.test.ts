import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { complete } from '../faults/fault-plane.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { leftoversOf, startUp, upRefused, type UpProcess } from './up-process.js';

if (!ENGINE_BUILT) console.log(`skip: chaos scenarios need the engine binary at ${ENGINE_BIN} (build it with npm install)`);

const FIXTURES = join(import.meta.dirname, '../fixtures/models');

// Instances sharing a host. A second `tidepool up` on a data directory in use refuses to start, naming the
// first; one on another data directory shares the shared-memory root but not a single file in it: its
// budget pressure evicts its own models, never the first instance's warm ones.
describe.skipIf(!ENGINE_BUILT)('chaos: a second instance on one host', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  const ups: UpProcess[] = [];
  afterAll(async () => {
    for (const up of ups) await up.stop();
    await work?.remove();
  });

  const hostLoads = async (url: string) =>
    Number(/^tidepool_model_loads_total\{tier="host"\} (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
  const deploy = async (url: string, name: string, fixture: string, cacheRoot: string) => {
    const dir = join(cacheRoot, name);
    await import('node:fs/promises').then(async (fs) => {
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(join(dir, 'function.yaml'), `name: ${name}\nmodel: {path: ${join(FIXTURES, fixture)}}\ndefaults: {max_tokens: 4}\n`);
    });
    await deployFunction(createApiClient({ baseUrl: url }), await prepareFunctionDir(dir, cacheRoot), { progress: false });
  };

  it('refuses a second up on the same data directory, naming the first, which keeps serving', { timeout: 180_000 }, async () => {
    work = await makeTempDir('tidepool-chaos-two');
    const shmRoot = join(work.dir, 'shm');
    const first = await startUp({ dataDir: join(work.dir, 'a'), shmRoot, examples: false });
    ups.push(first);
    await deploy(first.url, 'qwen-a', 'tiny-qwen2', work.dir);
    expect((await complete(first.url, { model: 'qwen-a' })).status).toBe(200);

    const refused = await upRefused({ dataDir: join(work.dir, 'a'), shmRoot, examples: false });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(
      new RegExp(
        `^tidepool: could not start: the data directory ${resolve(work.dir, 'a')} is in use by process ${first.pid} \\(tidepool\\.mjs up --json, since [^)]+\\); stop that process, or set TIDEPOOL_DATA_DIR to another directory`,
      ),
    );
    expect((await complete(first.url, { model: 'qwen-a' })).status).toBe(200);
    console.log(`second up refused: ${refused.stderr.trim()}`);
  });

  it("keeps the instances' warm models apart in one shared-memory root, under budget pressure too", { timeout: 180_000 }, async () => {
    const [first] = ups;
    const shmRoot = join(work.dir, 'shm');
    const before = await listTree(shmRoot);
    const loadsBefore = await hostLoads(first!.url);
    // Room for one fixture model at a time: the second instance must evict to serve its two functions.
    const second = await startUp({ dataDir: join(work.dir, 'b'), shmRoot, examples: false, env: { TIDEPOOL_HOST_POOL_BYTES: '512KiB' } });
    ups.push(second);
    await deploy(second.url, 'llama-b', 'tiny-llama', work.dir);
    await deploy(second.url, 'qwen-b', 'tiny-qwen2-f16', work.dir);
    for (const model of ['llama-b', 'qwen-b', 'llama-b']) expect((await complete(second.url, { model })).status, model).toBe(200);
    expect(await hostLoads(second.url)).toBe(3);

    // Everything the first instance had in shared memory (its namespace alone, then) is still there.
    const after = await listTree(shmRoot);
    for (const path of before) expect(after, `${path} of the first instance`).toContain(path);
    expect((await complete(first!.url, { model: 'qwen-a' })).status).toBe(200);
    expect(await hostLoads(first!.url)).toBe(loadsBefore);

    for (const up of ups.splice(0)) {
      expect(await up.stop()).toBe(0);
      expect(leftoversOf(up.pid, up.dataDir)).toEqual([]);
    }
    console.log(`two instances in ${shmRoot}: ${(await readdir(shmRoot)).join(', ')}; the first's model stayed warm while the second evicted its own`);
  });
});

/** Every path under `root`, relative, directories included. */
async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.map(String).sort();
}
