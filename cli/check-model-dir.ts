import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectModelDir, type ModelSummary } from '../platform/models/validate-model.js';
import { CliError } from './cli-error.js';
import type { FunctionDir } from './function-dir.js';

/**
 * Refuses a model the control plane would refuse, before anything is hashed or uploaded: the server checks
 * the same things only after the blobs are stored, so a bad model caught there leaves orphan blobs behind.
 * Uses the validators the server uses (config.json against every safetensors header, truncation included).
 */
export async function checkModelDir(fn: FunctionDir): Promise<ModelSummary> {
  const check = await inspectModelDir(fn.modelDir);
  if (!check.ok) throw new CliError(`invalid model in ${fn.modelDir}: ${check.problems.map((p) => p.message).join('; ')}`);
  const limit = fn.manifest.context_length;
  const maxPositions = check.summary.config.maxPositionEmbeddings;
  if (limit !== null && limit > maxPositions) {
    throw new CliError(`context_length: ${limit} exceeds the model's max_position_embeddings ${maxPositions}`);
  }
  await checkTokenizerJson(fn.modelDir);
  return check.summary;
}

async function checkTokenizerJson(modelDir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(modelDir, 'tokenizer.json'), 'utf8');
  } catch (error) {
    // No tokenizer.json: the model speaks byte-level ids.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new CliError(`invalid model in ${modelDir}: tokenizer.json: not valid JSON: ${(error as Error).message}`);
  }
}
