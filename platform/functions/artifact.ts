import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** One model file as deployed: its name inside the artifact, `sha256:<hex>` of its bytes and its size. */
export interface ArtifactFileEntry {
  readonly name: string;
  readonly digest: string;
  readonly size: number;
}

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * The files a function artifact may hold; anything else in a model folder is ignored, hidden files too
 * (`._model.safetensors` from a macOS copy is not a shard, and the server refuses dot names).
 */
export function isModelFile(name: string): boolean {
  if (name.startsWith('.')) return false;
  return name === 'config.json' || name === 'tokenizer.json' || name.endsWith('.safetensors') || name === 'model.safetensors.index.json';
}

export async function hashFile(path: string): Promise<{ readonly digest: string; readonly size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * The artifact's identity: sha256 over the file list sorted by name, one `name\tdigest\tsize\n` line each.
 * Same files, same digest, whatever order they were listed in, so redeploying an unchanged model reuses
 * everything downstream (host pool, GPU slots) keyed by it.
 */
export function weightsDigestOf(files: readonly ArtifactFileEntry[]): WeightsDigest {
  const hash = createHash('sha256');
  for (const f of sortFiles(files)) hash.update(`${f.name}\t${f.digest}\t${f.size}\n`);
  return `sha256:${hash.digest('hex')}` as WeightsDigest; // the form isWeightsDigest checks, by construction
}

export function sortFiles(files: readonly ArtifactFileEntry[]): ArtifactFileEntry[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Hashes every model file in `dir` (not recursive). */
export async function collectModelFiles(dir: string): Promise<ArtifactFileEntry[]> {
  const names = (await readdir(dir)).filter(isModelFile).sort();
  const files: ArtifactFileEntry[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    const { digest, size } = await hashFile(path);
    files.push({ name, digest, size });
  }
  return files;
}
