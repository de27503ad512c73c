import { expect, it } from 'vitest';
import {
  createFunctionVersion,
  deleteFunction,
  getActiveVersion,
  getFunction,
  getVersion,
  isDigestReferenced,
  listFunctions,
  listReferencedBlobDigests,
  listVersions,
  listWarmHeldVersions,
  setActiveVersion,
  withBlobReferencesLocked,
  type NewFunctionVersion,
} from '../../../platform/db/repositories/function-repository.js';
import { withDatabases } from '../../helpers/databases.js';
import { letTimePass } from '../../helpers/wait-for.js';
import { realDigest } from '../../helpers/weights-digest.js';

const DIGEST_A = realDigest('a');
const DIGEST_B = realDigest('b');

function deploy(name: string, overrides: Partial<NewFunctionVersion> = {}): NewFunctionVersion {
  return {
    name,
    description: `${name} function`,
    manifest: { name, model: { path: './model' }, slo: { ttft_ms: 500, tpot_ms: 50 }, tags: ['chat', 'small'] },
    weightsDigest: DIGEST_A,
    files: [{ name: 'model.safetensors', digest: DIGEST_B, size: 6_000_000_000 }],
    // Above 2^32: int8 must come back as an exact number, not a string.
    sizeBytes: 6_000_000_123,
    ...overrides,
  };
}

withDatabases(({ database }) => {
  it('registers version 1 and makes it active', async () => {
    const { db } = database();
    expect(await createFunctionVersion(db, deploy('fn-first'))).toEqual({ name: 'fn-first', version: 1 });
    const fn = await getFunction(db, 'fn-first');
    expect(fn).toMatchObject({ name: 'fn-first', description: 'fn-first function', activeVersion: 1 });
    expect(fn?.createdAt).toBeInstanceOf(Date);
    const active = await getActiveVersion(db, 'fn-first');
    expect(active).toMatchObject({ functionName: 'fn-first', version: 1, weightsDigest: DIGEST_A, sizeBytes: 6_000_000_123 });
    expect(active?.manifest).toEqual(deploy('fn-first').manifest);
    expect(active?.files).toEqual(deploy('fn-first').files);
  });

  it('numbers redeploys consecutively and activates the newest', async () => {
    const { db } = database();
    await createFunctionVersion(db, deploy('fn-redeploy'));
    expect(await createFunctionVersion(db, deploy('fn-redeploy', { description: 'second', weightsDigest: DIGEST_B }))).toEqual({
      name: 'fn-redeploy',
      version: 2,
    });
    expect((await getFunction(db, 'fn-redeploy'))?.description).toBe('second');
    expect((await getActiveVersion(db, 'fn-redeploy'))?.version).toBe(2);
    expect((await listVersions(db, 'fn-redeploy')).map((v) => v.version)).toEqual([2, 1]);
    expect((await getVersion(db, 'fn-redeploy', 1))?.weightsDigest).toBe(DIGEST_A);
  });

  it('gives concurrent deploys of one name distinct versions with exactly one active', async () => {
    const { db } = database();
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => createFunctionVersion(db, deploy('fn-race'))));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4, 5]);
    const versions = await listVersions(db, 'fn-race');
    expect(versions).toHaveLength(5);
    const listed = (await listFunctions(db)).filter((fn) => fn.name === 'fn-race');
    expect(listed).toHaveLength(1);
    expect(listed[0]?.activeVersion).toBe(5);
    expect(listed[0]?.active?.version).toBe(5);
  });

  it('gives exactly two concurrent first deploys versions 1 and 2', async () => {
    const { db } = database();
    const results = await Promise.all([createFunctionVersion(db, deploy('fn-pair')), createFunctionVersion(db, deploy('fn-pair'))]);
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    expect((await getFunction(db, 'fn-pair'))?.activeVersion).toBe(2);
  });

  it('lists functions by name with their active version', async () => {
    const { db } = database();
    await createFunctionVersion(db, deploy('fn-list-b'));
    await createFunctionVersion(db, deploy('fn-list-a', { sizeBytes: 42 }));
    const listed = (await listFunctions(db)).filter((fn) => fn.name.startsWith('fn-list-'));
    expect(listed.map((fn) => fn.name)).toEqual(['fn-list-a', 'fn-list-b']);
    expect(listed[0]?.active).toMatchObject({ version: 1, sizeBytes: 42, weightsDigest: DIGEST_A });
  });

  it('rolls back to an existing version and refuses a missing one', async () => {
    const { db } = database();
    await createFunctionVersion(db, deploy('fn-rollback'));
    await createFunctionVersion(db, deploy('fn-rollback', { weightsDigest: DIGEST_B }));
    expect(await setActiveVersion(db, 'fn-rollback', 1)).toBe(true);
    expect((await getActiveVersion(db, 'fn-rollback'))?.weightsDigest).toBe(DIGEST_A);
    expect(await setActiveVersion(db, 'fn-rollback', 7)).toBe(false);
    expect(await setActiveVersion(db, 'fn-nope', 1)).toBe(false);
    expect((await createFunctionVersion(db, deploy('fn-rollback'))).version).toBe(3);
  });

  it('deletes a function with its versions and reports unknown names', async () => {
    const { db } = database();
    await createFunctionVersion(db, deploy('fn-delete', { weightsDigest: realDigest('d') }));
    expect(await isDigestReferenced(db, realDigest('d'))).toBe(true);
    expect(await deleteFunction(db, 'fn-delete')).toBe(true);
    expect(await deleteFunction(db, 'fn-delete')).toBe(false);
    expect(await getFunction(db, 'fn-delete')).toBeNull();
    expect(await getActiveVersion(db, 'fn-delete')).toBeNull();
    expect(await listVersions(db, 'fn-delete')).toEqual([]);
    expect(await isDigestReferenced(db, realDigest('d'))).toBe(false);
  });

  it('finds blobs referenced as files', async () => {
    const { db } = database();
    const fileDigest = `sha256:${'e'.repeat(64)}`;
    expect(await isDigestReferenced(db, fileDigest)).toBe(false);
    await createFunctionVersion(db, deploy('fn-files', { files: [{ name: 'config.json', digest: fileDigest, size: 10 }] }));
    expect(await isDigestReferenced(db, fileDigest)).toBe(true);
  });

  it("lists the blob digests of every version's files, not artifact digests", async () => {
    const { db } = database();
    const [one, two] = [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`];
    await createFunctionVersion(db, deploy('fn-refs', { files: [{ name: 'config.json', digest: one, size: 1 }] }));
    await createFunctionVersion(db, deploy('fn-refs', { files: [{ name: 'config.json', digest: two, size: 1 }] }));
    const referenced = await listReferencedBlobDigests(db);
    expect(referenced.has(one) && referenced.has(two)).toBe(true);
    expect(referenced.has(DIGEST_A)).toBe(false); // an artifact digest names a file list, never a blob
  });

  it('holds blob garbage collection until a deploy in progress commits, and then shows its blobs', async () => {
    const { db } = database();
    const digest = `sha256:${'3'.repeat(64)}`;
    let commit!: () => void;
    let inserted!: () => void;
    const insertDone = new Promise<void>((resolve) => (inserted = resolve));
    const deploying = createFunctionVersion(db, deploy('fn-gc-race', { files: [{ name: 'config.json', digest, size: 1 }] }), async () => {
      inserted();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await insertDone;
    let seen: boolean | undefined;
    const collecting = withBlobReferencesLocked(db, async (referenced) => {
      seen = referenced.has(digest);
    });
    await letTimePass(200); // the collector must stay blocked behind the uncommitted deploy
    expect(seen).toBeUndefined();
    commit();
    await Promise.all([deploying, collecting]);
    expect(seen).toBe(true);
  });

  it('holds a deploy while blob garbage collection deletes, so its check after the insert sees the deletions', async () => {
    const { db } = database();
    const order: string[] = [];
    let finish!: () => void;
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const collecting = withBlobReferencesLocked(db, async () => {
      locked();
      await new Promise<void>((resolve) => (finish = resolve));
      order.push('gc done');
    });
    await lockTaken;
    const deploying = createFunctionVersion(db, deploy('fn-gc-wait'), async () => void order.push('deploy checks blobs'));
    await letTimePass(200); // the deploy must stay blocked behind the collector's lock
    expect(order).toEqual([]);
    finish();
    await Promise.all([collecting, deploying]);
    expect(order).toEqual(['gc done', 'deploy checks blobs']);
  });

  it('lists the active versions that ask for min_warm, and only those', async () => {
    const { db } = database();
    const withManifest = (name: string, fields: Record<string, unknown>) => deploy(name, { manifest: { name, model: { path: './model' }, ...fields } });
    await createFunctionVersion(db, withManifest('warm-held', { min_warm: 1, keep_warm_ms: 5 }));
    await createFunctionVersion(db, withManifest('warm-dropped', { min_warm: 2 }));
    await createFunctionVersion(db, withManifest('warm-dropped', { min_warm: 0 }));
    await createFunctionVersion(db, withManifest('warm-rolled-back', { min_warm: 0 }));
    await createFunctionVersion(db, withManifest('warm-rolled-back', { min_warm: 3 }));
    await createFunctionVersion(db, withManifest('warm-odd', { min_warm: 'lots' }));
    const rows = await listWarmHeldVersions(db);
    expect(rows.map((r) => [r.functionName, r.version])).toEqual([
      ['warm-held', 1],
      ['warm-rolled-back', 2],
    ]);
    await setActiveVersion(db, 'warm-rolled-back', 1);
    expect((await listWarmHeldVersions(db)).map((r) => r.functionName)).toEqual(['warm-held']);
  });
});
