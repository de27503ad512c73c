/**
 * One model's way from the object store into shared memory: every blob fetched (with retries) into a
 * private fetch directory, the artifact manifest written beside them, and the directory published under its
 * final name only when all of it is in, so the engine is never given a half-fetched model. Apart from the
 * pool because it is the only part that talks to the store; the pool decides when, and makes room first.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobSource } from '../../protocol/blob-source.js';
import { artifactToWire } from '../../protocol/internal-generate.js';
import type { Artifact } from '../../protocol/node-runtime.js';
import type { RuntimeMetrics } from '../metrics.js';
import { HostPoolError } from './host-pool-error.js';
import { makeFetchDir, publishDir, removeDir } from './host-pool-files.js';
import { withStoreRetry, type StoreRetryOptions } from './store-retry.js';

/** Written into each published model directory so a restarted node can verify and reuse it. */
export const ARTIFACT_MANIFEST = '.tidepool-artifact.json';

export interface DownloadModelDeps {
  readonly shmDir: string;
  readonly fetchBlob: BlobSource;
  readonly storeRetry: StoreRetryOptions;
  readonly metrics: RuntimeMetrics;
  readonly now: () => number;
  /** True once every caller gave up: retries stop. */
  readonly noLongerWanted: () => boolean;
  /** The deletion of an earlier copy of the same digest, if one is under way: publishing waits for it. */
  readonly previousRemoval: () => Promise<void> | undefined;
}

/** Fetches `artifact` and publishes it at `dir`; a failure leaves nothing behind but the error. */
export async function downloadModel(artifact: Artifact, dir: string, deps: DownloadModelDeps): Promise<void> {
  const { metrics } = deps;
  const started = deps.now();
  const fetchDir = await makeFetchDir(deps.shmDir, artifact.weightsDigest);
  try {
    for (const file of artifact.files) {
      try {
        await withStoreRetry(() => deps.fetchBlob(file.digest, join(fetchDir, file.name)), deps.storeRetry, {
          onRetry: () => metrics.hostFetchRetries.inc(),
          stop: deps.noLongerWanted,
        });
      } catch (error) {
        throw HostPoolError.fromFetch(artifact.weightsDigest, file.name, error);
      }
      metrics.hostFetchBytes.inc(file.size);
    }
    await writeFile(join(fetchDir, ARTIFACT_MANIFEST), JSON.stringify(artifactToWire(artifact)));
    await deps.previousRemoval();
    await publishDir(fetchDir, dir);
  } catch (error) {
    await removeDir(fetchDir);
    throw error;
  }
  const seconds = (deps.now() - started) / 1000;
  metrics.hostFetchSeconds.observe(seconds);
  metrics.modelLoads.inc({ tier: 'host' });
  metrics.modelLoadBytes.inc({ tier: 'host' }, artifact.bytes);
  metrics.modelLoadSeconds.observe({ tier: 'host' }, seconds);
}
