import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import cliProgress from 'cli-progress';
import { collectModelFiles, type ArtifactFileEntry } from '../platform/functions/artifact.js';
import type { ApiClient } from './api-client.js';
import { checkModelDir } from './check-model-dir.js';
import type { FunctionDir } from './function-dir.js';
import { type WeightsDigest, parseWeightsDigest } from '../protocol/weights-digest.js';

export interface DeployOutcome {
  readonly name: string;
  readonly version: number;
  readonly weightsDigest: WeightsDigest;
  readonly sizeBytes: number;
  readonly uploaded: number;
  readonly uploadedBytes: number;
  readonly skipped: number;
}

/**
 * Checks the model locally, hashes its files, uploads only the blobs the store lacks (HEAD first), then
 * registers the version. The manifest was validated before this runs, so an invalid manifest or model never
 * uploads anything.
 */
export async function deployFunction(api: ApiClient, fn: FunctionDir, options: { readonly progress: boolean }): Promise<DeployOutcome> {
  await checkModelDir(fn);
  const files = await collectModelFiles(fn.modelDir);
  const missing: ArtifactFileEntry[] = [];
  for (const f of files) {
    const head = await api.raw('HEAD', `/v1/blobs/${f.digest}`, { allow: [404] });
    if (head.status === 404) missing.push(f);
  }
  const total = missing.reduce((sum, f) => sum + f.size, 0);
  const bar =
    options.progress && total > 0
      ? new cliProgress.SingleBar({ format: 'upload [{bar}] {percentage}% {value}/{total} bytes {file}', hideCursor: true }, cliProgress.Presets.shades_classic)
      : undefined;
  bar?.start(total, 0, { file: '' });
  let done = 0;
  try {
    for (const f of missing) {
      bar?.update(done, { file: f.name });
      await uploadBlob(api, join(fn.modelDir, f.name), f, (n) => bar?.update((done += n)));
    }
  } finally {
    bar?.stop();
  }
  const result = await api.json<{ name: string; version: number; artifact_digest: string; size_bytes: number }>('POST', '/v1/functions', {
    name: fn.manifest.name,
    manifest: fn.manifest,
    files,
  });
  return {
    name: result.name,
    version: result.version,
    weightsDigest: parseWeightsDigest(result.artifact_digest, 'artifact_digest'),
    sizeBytes: result.size_bytes,
    uploaded: missing.length,
    uploadedBytes: total,
    skipped: files.length - missing.length,
  };
}

async function uploadBlob(api: ApiClient, path: string, file: ArtifactFileEntry, onBytes: (n: number) => void): Promise<void> {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  const body = Readable.toWeb(createReadStream(path).pipe(counter)) as unknown as ReadableStream<Uint8Array>;
  await api.raw('PUT', `/v1/blobs/${file.digest}`, {
    body,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(file.size) },
    duplex: 'half',
  } as RequestInit);
}
