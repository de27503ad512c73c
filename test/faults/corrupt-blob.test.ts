import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { collectModelFiles } from '../../platform/functions/artifact.js';
import { blobKey } from '../../platform/storage/blob-store.js';
import type { ObjectStore } from '../../platform/storage/object-store.js';
import { S3ObjectStore } from '../../platform/storage/s3-object-store.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { complete, recordedStatuses, startFaultPlane, total, type FaultPlane } from './fault-plane.js';

if (!ENGINE_BUILT) console.log(`skip: corrupt blob fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

/** Flips one byte in the middle: same size, so only the digest check can tell. */
function corrupted(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length >> 1]! ^= 0xff;
  return copy;
}

// A stored weights blob goes bad after deploy (bit rot on the volume, a bucket object overwritten behind the
// API). The node's fetch into the host pool hashes it: the invocation gets 502 `blob_corrupt` naming the
// digest, nothing is served, and a verified re-upload of the same digest replaces the stored copy.
describe.skipIf(!ENGINE_BUILT)('fault: a stored blob is corrupt', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const cases: { readonly kind: string; readonly start: () => Promise<{ fault: FaultPlane; corrupt: (digest: string, bytes: Buffer) => Promise<void> }> }[] = [
    {
      kind: 'filesystem store (bytes changed on disk)',
      start: async () => {
        const fault = await startFaultPlane();
        cleanups.push(() => fault.close());
        return { fault, corrupt: (digest, bytes) => writeFile(join(fault.dataDir, 'objects', blobKey(digest)), bytes) };
      },
    },
    {
      kind: 's3rver (object overwritten over the S3 protocol)',
      start: async () => {
        const s3: RunningS3rver = await startS3rver();
        cleanups.push(() => s3.stop());
        const store: ObjectStore = new S3ObjectStore({ bucket: s3.bucket, prefix: 'weights/', client: s3.client });
        const fault = await startFaultPlane({ store });
        cleanups.push(() => fault.close());
        return { fault, corrupt: (digest, bytes) => store.put(blobKey(digest), bytes) };
      },
    },
  ];

  for (const { kind, start } of cases) {
    it(`${kind}: 502 blob_corrupt naming the digest, then a re-upload repairs it`, { timeout: 60_000 }, async () => {
      const { fault, corrupt } = await start();
      const fn = await prepareFunctionDir('functions/tiny-chat', fault.dataDir);
      const weights = (await collectModelFiles(fn.modelDir)).find((f) => f.name.endsWith('.safetensors'))!;
      const good = await readFile(join(fn.modelDir, weights.name));
      await corrupt(weights.digest, corrupted(good));

      const refused = await complete(fault.url, {});
      expect(refused.status, refused.body).toBe(502);
      const error = JSON.parse(refused.body).error;
      expect(error.code).toBe('blob_corrupt');
      expect(error.message).toMatch(
        new RegExp(
          `^stored blob ${weights.digest} \\(${weights.name} of model sha256:[0-9a-f]{64}\\) is corrupt: its bytes hash to sha256:[0-9a-f]{64}; upload the file again`,
        ),
      );
      expect(error.message).not.toContain(`hash to ${weights.digest}`);
      console.log(`${kind}: ${refused.status} ${error.message}`);

      // HEAD stays a metadata lookup: it does not re-read the bytes, so it still answers 200.
      const head = await fetch(`${fault.url}/v1/blobs/${weights.digest}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      // A wrong body for that digest is refused and leaves the stored copy alone.
      const wrong = await fetch(`${fault.url}/v1/blobs/${weights.digest}`, { method: 'PUT', body: new Uint8Array(corrupted(good)) });
      expect(wrong.status).toBe(400);
      expect((await complete(fault.url, {})).status).toBe(502);

      const repaired = await fetch(`${fault.url}/v1/blobs/${weights.digest}`, { method: 'PUT', body: good });
      expect(repaired.status).toBe(200);
      expect(await repaired.json()).toEqual({ digest: weights.digest, size: good.length, created: false });
      const served = await complete(fault.url, {});
      expect(served.status, served.body).toBe(200);
      expect(JSON.parse(served.body).choices[0].finish_reason).toMatch(/^(length|stop)$/);

      const recorded = await recordedStatuses(fault);
      expect(total(recorded)).toBe(3);
      expect(recorded.rejected).toBe(2);
    });
  }
});
