import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { blobKey, digestOf, downloadBlobTo, putBlob } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import type { DownloadOptions, ObjectInfo } from '../../../platform/storage/object-store.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { letTimePass, waitFor } from '../../helpers/wait-for.js';
import type { Artifact } from '../../../protocol/node-runtime.js';
import { createHostPool, HOST_POOL_LOCK } from '../../../runtime/pool/host-pool.js';
import type { HostPool, HostPoolOptions } from '../../../runtime/pool/host-pool-contract.js';
import { WarmHolds } from '../../../runtime/pool/warm-holds.js';
import { digest } from '../../helpers/weights-digest.js';

/** The real filesystem object store, counting blob downloads (the reads a cold start costs). */
class CountingStore extends FsObjectStore {
  reads = 0;
  override async download(key: string, destPath: string, options?: DownloadOptions): Promise<ObjectInfo> {
    this.reads++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return super.download(key, destPath, options);
  }
}

class BlobDir {
  readonly store: CountingStore;
  constructor(readonly root: string) {
    this.store = new CountingStore(root);
  }

  get reads(): number {
    return this.store.reads;
  }

  set reads(value: number) {
    this.store.reads = value;
  }

  async put(bytes: Buffer): Promise<string> {
    const digest = digestOf(bytes);
    await putBlob(this.store, digest, bytes);
    return digest;
  }

  path(digest: string): string {
    return join(this.root, blobKey(digest));
  }

  readonly fetchBlob = (digest: string, target: string): Promise<void> => downloadBlobTo(this.store, digest, target);
}

async function artifactOf(blobs: BlobDir, seed: string, size: number): Promise<Artifact> {
  const config = Buffer.from(JSON.stringify({ seed }));
  const weights = Buffer.alloc(size - config.length, seed);
  const files = [
    { name: 'config.json', digest: await blobs.put(config), size: config.length },
    { name: 'model.safetensors', digest: await blobs.put(weights), size: weights.length },
  ];
  return { weightsDigest: digest(digestOf(Buffer.from(files.map((f) => `${f.name}:${f.digest}`).join('\n')))), files, bytes: size };
}

/** What a pool keeps in its directory besides its own lock file. */
async function listed(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== HOST_POOL_LOCK);
}

describe('host pool', () => {
  let root: string;
  let shmDir: string;
  let blobs: BlobDir;
  const pools: HostPool[] = [];
  const use = { functionName: 'fn', keepWarmMs: 60_000 };

  async function pool(overrides: Partial<HostPoolOptions> = {}): Promise<HostPool> {
    const created = await createHostPool({ shmDir, budgetBytes: 1000, fetchBlob: blobs.fetchBlob, registry: new Registry(), ...overrides });
    pools.push(created);
    return created;
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tp-pool-'));
    shmDir = join(root, 'shm');
    blobs = new BlobDir(join(root, 'store'));
  });
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
    // An aborted fetch may still be finishing its temp files when the test ends.
    await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it('fetches a cold model exactly once for concurrent requests', async () => {
    const hostPool = await pool();
    const model = await artifactOf(blobs, 'a', 400);
    const leases = await Promise.all(Array.from({ length: 8 }, () => hostPool.acquire(model, use)));
    expect(blobs.reads).toBe(2);
    expect(new Set(leases.map((l) => l.dir)).size).toBe(1);
    expect(await readdir(leases[0]!.dir)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    expect(hostPool.snapshot()).toEqual([expect.objectContaining({ state: 'warm', leases: 8, bytes: 400 })]);
    await hostPool.acquire(model, use);
    expect(blobs.reads).toBe(2);
  });

  it('evicts the least recently used idle model to fit a new one, never a leased one', async () => {
    const hostPool = await pool();
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((s) => artifactOf(blobs, s, 400)));
    const leaseA = await hostPool.acquire(a!, use);
    (await hostPool.acquire(b!, use)).release();
    leaseA.release();
    (await hostPool.acquire(a!, use)).release(); // a is now more recent than b
    await hostPool.acquire(c!, use);
    expect(
      hostPool
        .snapshot()
        .map((m) => m.weightsDigest)
        .sort(),
    ).toEqual([a!.weightsDigest, c!.weightsDigest].sort());
    const leaseA2 = await hostPool.acquire(a!, use);
    const waiting = hostPool.acquire(d!, use); // c is leased and a is leased: d must wait
    let settled = false;
    void waiting.then(() => (settled = true));
    await waitFor(() => hostPool.snapshot().find((m) => m.weightsDigest === d!.weightsDigest)?.state === 'fetching', {
      message: 'd to be registered as fetching',
    });
    expect(settled).toBe(false);
    leaseA2.release();
    await waiting;
    expect(hostPool.usedBytes()).toBeLessThanOrEqual(1000);
    expect(
      hostPool
        .snapshot()
        .map((m) => m.weightsDigest)
        .sort(),
    ).toEqual([c!.weightsDigest, d!.weightsDigest].sort());
  });

  it("tells eviction listeners once the evicted model's files are gone", async () => {
    const hostPool = await pool();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((s) => artifactOf(blobs, s, 400)));
    const evicted: { digest: string; filesLeft: number }[] = [];
    const dirs = new Map<string, string>();
    hostPool.onEvicted((digest) => {
      evicted.push({ digest, filesLeft: -1 });
      void readdir(dirs.get(digest)!).then(
        (files) => (evicted.find((e) => e.digest === digest)!.filesLeft = files.length),
        () => (evicted.find((e) => e.digest === digest)!.filesLeft = 0),
      );
    });
    for (const model of [a!, b!]) {
      const lease = await hostPool.acquire(model, use);
      dirs.set(model.weightsDigest, lease.dir);
      lease.release();
    }
    (await hostPool.acquire(c!, use)).release(); // the least recently used (a) makes room
    await waitFor(() => evicted.length > 0 && evicted.every((e) => e.filesLeft >= 0), { message: 'the eviction listener to read the evicted directory' });
    expect(evicted).toEqual([{ digest: a!.weightsDigest, filesLeft: 0 }]);
  });

  it('keeps a softly held model past its keep-warm window but evicts it, last, under pressure', async () => {
    const hostPool = await pool();
    const [hot, idle, next] = await Promise.all(['h', 'i', 'n'].map((seed) => artifactOf(blobs, seed, 400)));
    (await hostPool.acquire(hot!, { functionName: 'fn', keepWarmMs: 10 })).release();
    const hold = hostPool.holdIfWarm(hot!.weightsDigest)!;
    (await hostPool.acquire(idle!, use)).release(); // more recent than hot, but not held
    await letTimePass(40); // past hot's 10 ms keep-warm window: the soft hold must keep it anyway
    expect(hostPool.snapshot().find((m) => m.weightsDigest === hot!.weightsDigest)).toMatchObject({ softLeases: 1 });
    await hostPool.acquire(next!, use);
    expect(
      hostPool
        .snapshot()
        .map((m) => m.weightsDigest)
        .sort(),
    ).toEqual([hot!.weightsDigest, next!.weightsDigest].sort());
    const last = await artifactOf(blobs, 'l', 400);
    await hostPool.acquire(last, use); // only the softly held model can make room now
    expect(
      hostPool
        .snapshot()
        .map((m) => m.weightsDigest)
        .sort(),
    ).toEqual([next!.weightsDigest, last.weightsDigest].sort());
    hold.release(); // releasing a lease on an evicted model changes nothing
    expect(hostPool.usedBytes()).toBe(800);
    expect(hostPool.holdIfWarm(hot!.weightsDigest)).toBeUndefined();
  });

  it('rejects a corrupt blob and leaves nothing visible in shared memory', async () => {
    const hostPool = await pool();
    const model = await artifactOf(blobs, 'x', 300);
    await writeFile(blobs.path(model.files[1]!.digest), Buffer.alloc(model.files[1]!.size, 'y'));
    await expect(hostPool.acquire(model, use)).rejects.toMatchObject({ name: 'HostPoolError', code: 'digest_mismatch' });
    expect(await listed(shmDir)).toEqual([]);
    expect(hostPool.snapshot()).toEqual([]);
  });

  it('refuses an artifact file name that could escape the model directory as bad_artifact, before any fetch or eviction', async () => {
    const hostPool = await pool();
    const warm = await artifactOf(blobs, 'w', 800);
    (await hostPool.acquire(warm, use)).release();
    blobs.reads = 0;
    const model = await artifactOf(blobs, 'x', 300);
    const escaping = { ...model, files: [model.files[0]!, { ...model.files[1]!, name: '../model.safetensors' }] };
    await expect(hostPool.acquire(escaping, use)).rejects.toMatchObject({
      name: 'HostPoolError',
      code: 'bad_artifact',
      message: expect.stringContaining('lists the file name "../model.safetensors", which is not a plain file name'),
    });
    expect(blobs.reads).toBe(0);
    expect(hostPool.snapshot().map((m) => m.weightsDigest)).toEqual([warm.weightsDigest]);
    expect(await readdir(root)).not.toContain('model.safetensors');
  });

  it('reports a missing blob as store_unavailable', async () => {
    const hostPool = await pool();
    const model = await artifactOf(blobs, 'x', 300);
    await rm(blobs.path(model.files[0]!.digest));
    await expect(hostPool.acquire(model, use)).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('refuses a model larger than the whole pool', async () => {
    const hostPool = await pool({ budgetBytes: 100 });
    await expect(hostPool.acquire(await artifactOf(blobs, 'big', 300), use)).rejects.toMatchObject({ code: 'too_large' });
  });

  it('rediscovers verified models at start and drops tampered ones', async () => {
    const first = await pool();
    const good = await artifactOf(blobs, 'g', 300);
    const bad = await artifactOf(blobs, 'b', 300);
    (await first.acquire(good, use)).release();
    const badLease = await first.acquire(bad, use);
    badLease.release();
    await first.close();
    await writeFile(join(badLease.dir, 'model.safetensors'), 'tampered');
    await mkdir(join(shmDir, '.fetch-leftover'), { recursive: true });
    blobs.reads = 0;

    const second = await pool();
    expect(second.snapshot().map((m) => m.weightsDigest)).toEqual([good.weightsDigest]);
    expect(await readdir(shmDir)).toEqual(expect.arrayContaining([good.weightsDigest.slice(7), HOST_POOL_LOCK]));
    expect(await readdir(shmDir)).toHaveLength(2);
    await second.acquire(good, use);
    expect(blobs.reads).toBe(0);
  });

  it('refuses a second pool on its directory, naming the holder, and takes over the lock of a dead one', async () => {
    await pool();
    await expect(pool()).rejects.toThrow(/host pool directory .* is in use by this process .*give each instance its own/);
    const other = join(root, 'other-shm');
    await mkdir(other, { recursive: true });
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(other, HOST_POOL_LOCK), JSON.stringify({ pid: deadPid, host: hostname(), since: 'then', command: 'tidepool up', nonce: 'stale' }));
    const survivor = await pool({ shmDir: other });
    expect(survivor.snapshot()).toEqual([]);
    expect(JSON.parse(await readFile(join(other, HOST_POOL_LOCK), 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it("never adopts or deletes the models in another pool's directory", async () => {
    const mine = await pool();
    const model = await artifactOf(blobs, 'm', 300);
    const lease = await mine.acquire(model, use);
    // A second instance on the host has its own directory beside this one.
    const neighbour = await pool({ shmDir: join(root, 'neighbour') });
    const big = await artifactOf(blobs, 'n', 900);
    (await neighbour.acquire(big, use)).release();
    expect(await readdir(lease.dir)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    expect(neighbour.snapshot().map((m) => m.weightsDigest)).toEqual([big.weightsDigest]);
  });

  it('refetches a warm model whose files vanished from shared memory instead of handing out a dead lease', async () => {
    const registry = new Registry();
    const hostPool = await pool({ registry });
    const model = await artifactOf(blobs, 'v', 300);
    const first = await hostPool.acquire(model, use);
    first.release();
    const evicted: string[] = [];
    hostPool.onEvicted((digest) => evicted.push(digest));
    await rm(first.dir, { recursive: true, force: true }); // what a /dev/shm cleaner does
    blobs.reads = 0;
    const second = await hostPool.acquire(model, use);
    expect(await readdir(second.dir)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    expect(blobs.reads).toBe(2);
    expect(evicted).toEqual([model.weightsDigest]);
    expect((await registry.getSingleMetric('tidepool_host_pool_files_vanished_total')!.get()).values[0]!.value).toBe(1);
    expect(hostPool.snapshot()).toEqual([expect.objectContaining({ weightsDigest: model.weightsDigest, state: 'warm', leases: 1 })]);
  });

  it('evicts an idle model when its keep-warm window passes', async () => {
    const hostPool = await pool();
    const model = await artifactOf(blobs, 'k', 300);
    const lease = await hostPool.acquire(model, { functionName: 'fn', keepWarmMs: 20 });
    await letTimePass(50); // past the 20 ms window: a lease must keep the model anyway
    expect(hostPool.snapshot()).toHaveLength(1); // leased: the window has not started
    lease.release();
    // 20 ms after the release the window ends; the deletion then takes what a loaded machine gives it.
    await waitFor(async () => (await listed(shmDir)).length === 0, { message: 'the model files to leave shared memory' });
    expect(hostPool.snapshot()).toEqual([]);
    expect(await listed(shmDir)).toEqual([]);
  });

  it('gives up waiting for a fetch when the caller aborts', async () => {
    const hostPool = await pool();
    const controller = new AbortController();
    const pending = hostPool.acquire(await artifactOf(blobs, 'z', 300), { ...use, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
  });
  it('keeps a min_warm function in host memory past its keep-warm window and lets it go once released', async () => {
    const hostPool = await pool();
    const pinned = await artifactOf(blobs, 'p', 400);
    const holds = new WarmHolds(hostPool);
    await holds.hold('pinned-fn', pinned, 20);
    await letTimePass(80); // past the 20 ms keep-warm window: the hold must keep it
    // Budget pressure evicts idle models, never the held one.
    const [x, y] = await Promise.all(['x', 'y'].map((s) => artifactOf(blobs, s, 400)));
    (await hostPool.acquire(x!, use)).release();
    (await hostPool.acquire(y!, use)).release();
    expect(hostPool.snapshot().map((m) => m.weightsDigest)).toContain(pinned.weightsDigest);
    await holds.hold('pinned-fn', undefined);
    await waitFor(() => !hostPool.snapshot().some((m) => m.weightsDigest === pinned.weightsDigest), { message: 'the released model to leave host memory' });
  });

  // Released models stay listed (with no lease) for a minute: the checks below read their lease counts.
  const KEEP = 60_000;

  it('takes one lease for concurrent holds of one function, so a release lets the model go', async () => {
    const hostPool = await pool();
    const pinned = await artifactOf(blobs, 'p', 400);
    const holds = new WarmHolds(hostPool);
    // Both calls arrive while the weights are still being fetched (a deploy and a node re-registering).
    await Promise.all([holds.hold('pinned-fn', pinned, KEEP), holds.hold('pinned-fn', pinned, KEEP)]);
    expect(hostPool.snapshot()).toEqual([expect.objectContaining({ weightsDigest: pinned.weightsDigest, leases: 1 })]);
    await holds.hold('pinned-fn', undefined);
    expect(hostPool.snapshot()).toEqual([expect.objectContaining({ weightsDigest: pinned.weightsDigest, leases: 0 })]);
  });

  it('lets a release that arrives during the fetch win over the hold it overtook', async () => {
    const hostPool = await pool();
    const pinned = await artifactOf(blobs, 'p', 400);
    const holds = new WarmHolds(hostPool);
    const holding = holds.hold('pinned-fn', pinned, KEEP);
    await holds.hold('pinned-fn', undefined);
    await holding;
    expect(hostPool.snapshot()).toEqual([expect.objectContaining({ weightsDigest: pinned.weightsDigest, leases: 0 })]);
    expect(holds.entries()).toEqual([]);
  });

  it('keeps the old artifact held until the last of several redeploys is warm, then holds only that one', async () => {
    const hostPool = await pool({ budgetBytes: 2000 });
    const [v1, v2, v3] = await Promise.all(['1', '2', '3'].map((s) => artifactOf(blobs, s, 400)));
    const holds = new WarmHolds(hostPool);
    await holds.hold('pinned-fn', v1!, KEEP);
    await Promise.all([holds.hold('pinned-fn', v2!, KEEP), holds.hold('pinned-fn', v3!, KEEP)]);
    const leases = Object.fromEntries(hostPool.snapshot().map((m) => [m.weightsDigest, m.leases]));
    expect(leases).toEqual({ [v1!.weightsDigest]: 0, [v2!.weightsDigest]: 0, [v3!.weightsDigest]: 1 });
    expect(holds.entries()).toEqual([{ functionName: 'pinned-fn', artifact: v3, state: 'held' }]);
  });

  it('replaces the whole set of holds: listed functions are held, unlisted ones released', async () => {
    const hostPool = await pool({ budgetBytes: 2000 });
    const [a, b] = await Promise.all(['a', 'b'].map((s) => artifactOf(blobs, s, 400)));
    const holds = new WarmHolds(hostPool);
    await holds.hold('fn-a', a!, KEEP);
    await holds.set([{ functionName: 'fn-b', artifact: b!, keepWarmMs: KEEP }]);
    await holds.set([{ functionName: 'fn-b', artifact: b!, keepWarmMs: KEEP }]);
    const leases = Object.fromEntries(hostPool.snapshot().map((m) => [m.weightsDigest, m.leases]));
    expect(leases).toEqual({ [a!.weightsDigest]: 0, [b!.weightsDigest]: 1 });
    expect(holds.entries().map((e) => e.functionName)).toEqual(['fn-b']);
  });
});
