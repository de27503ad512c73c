import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tokenBytes } from '../../protocol/token-bytes.js';
import { EngineError } from './engine.js';

/**
 * The `tokens` field of the engine's `vocab` command for a model directory: every id's bytes in base64
 * (null for ids without bytes: special tokens, ids past the tokenizer), over config.json's `vocab_size`,
 * from tokenizer.json (or the byte-level scheme without one). Refused with `unsupported` for a tokenizer
 * whose token bytes cannot be read (docs/structured-outputs.md); the control plane checks the same first.
 */
export async function vocabTokens(modelDir: string): Promise<(string | null)[]> {
  const config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')) as { vocab_size?: unknown };
  const vocabSize = Number(config.vocab_size);
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) throw new EngineError('bad_model', `${modelDir}/config.json: vocab_size is not a positive integer`);
  const tokenizer = await readFile(join(modelDir, 'tokenizer.json'), 'utf8').then(
    (text) => JSON.parse(text) as Record<string, unknown>,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
  const bytes = tokenBytes(tokenizer, vocabSize);
  if (!bytes) throw new EngineError('unsupported', 'constrained decoding needs a byte-level BPE tokenizer or none; this model has another kind');
  return bytes.map((b) => (b === null || b.length === 0 ? null : Buffer.from(b).toString('base64')));
}
