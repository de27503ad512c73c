import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseManifestYaml, type FunctionManifest } from '../platform/functions/manifest.js';
import { synthesizeModel } from '../platform/models/synth.js';
import { CliError } from './cli-error.js';

/** A function folder read and validated: its manifest and the folder holding its model files. */
export interface FunctionDir {
  readonly dir: string;
  readonly manifest: FunctionManifest;
  readonly modelDir: string;
}

/** Parses `<dir>/function.yaml`; an invalid manifest fails with every problem on one line, naming fields. */
export async function readManifest(dir: string): Promise<FunctionManifest> {
  const file = join(dir, 'function.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError(`${file}: not found (a function folder holds function.yaml)`);
  }
  const result = parseManifestYaml(text, file);
  if (!result.ok) throw new CliError(`invalid manifest ${file}: ${result.problems.join('; ')}`);
  return result.manifest;
}

/** Where synthesized weights are cached: derived from (shape, seed, dtype), so re-deploys reuse them. */
export function synthDir(cacheRoot: string, synth: { shape: string; seed: number; dtype?: string }): string {
  return join(cacheRoot, 'synth', `${synth.shape}-seed${synth.seed}${synth.dtype ? `-${synth.dtype}` : ''}`);
}

/**
 * Finds (or, for `model: {synth: ...}`, writes once) the model files. Synthesized weights go under
 * `<cacheRoot>/synth/`, never into the function folder, so they are never committed.
 */
export async function prepareFunctionDir(dirArg: string, cacheRoot: string, log: (line: string) => void = () => {}): Promise<FunctionDir> {
  const dir = resolve(dirArg);
  const manifest = await readManifest(dir);
  if ('path' in manifest.model) {
    const modelDir = resolve(dir, manifest.model.path);
    if (!existsSync(join(modelDir, 'config.json'))) throw new CliError(`model.path: ${modelDir} has no config.json`);
    return { dir, manifest, modelDir };
  }
  const { synth } = manifest.model;
  const modelDir = synthDir(cacheRoot, synth);
  if (!existsSync(join(modelDir, 'config.json'))) {
    log(`synthesizing ${synth.shape} weights (seed ${synth.seed}) into ${modelDir}`);
    const dtype = synth.dtype === undefined ? undefined : ({ f32: 'F32', f16: 'F16', bf16: 'BF16' } as const)[synth.dtype];
    try {
      await synthesizeModel({ shape: synth.shape, seed: synth.seed, outDir: modelDir, ...(dtype ? { dtype } : {}) });
    } catch (error) {
      throw new CliError(`model.synth: ${(error as Error).message}`);
    }
  }
  return { dir, manifest, modelDir };
}
