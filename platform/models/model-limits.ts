import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../../protocol/install-root.js';

/**
 * The largest model Tidepool accepts, read from `cuda/model-limits.json`: the one table the engine (through
 * a header CMake generates from it) and these validators both enforce. Every dimension and count of
 * config.json, safetensors headers and tokenizer.json is checked against it before any work proportional to
 * it, so a hostile file is refused in microseconds instead of building a map per claimed layer.
 */
export interface ModelLimits {
  /** config.json dimensions, inclusive maxima, by field name. */
  readonly config: Readonly<Record<LimitedConfigField, number>>;
  readonly configJsonBytes: number;
  readonly safetensors: {
    readonly headerBytes: number;
    readonly tensors: number;
    readonly rank: number;
    readonly tensorElements: number;
    readonly files: number;
  };
  readonly tokenizer: { readonly jsonBytes: number; readonly vocab: number; readonly merges: number; readonly addedTokens: number };
}

export const LIMITED_CONFIG_FIELDS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
] as const;
export type LimitedConfigField = (typeof LIMITED_CONFIG_FIELDS)[number];

/** Where the table lives: in the installation's `cuda/`, found the same from the sources and the compiled CLI. */
export const MODEL_LIMITS_FILE = join(installRoot(), 'cuda', 'model-limits.json');

/** Parses the table's flat `"group.name": integer` form; throws naming a missing or malformed entry. */
export function parseModelLimits(raw: unknown): ModelLimits {
  const table = raw as Record<string, unknown>;
  const get = (key: string): number => {
    const value = table?.[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
      throw new Error(`model limits: ${key} must be a positive integer, got ${String(value)}`);
    return value;
  };
  const config = Object.fromEntries(LIMITED_CONFIG_FIELDS.map((field) => [field, get(`config.${field}`)])) as Record<LimitedConfigField, number>;
  return Object.freeze({
    config: Object.freeze(config),
    configJsonBytes: get('config.json_bytes'),
    safetensors: Object.freeze({
      headerBytes: get('safetensors.header_bytes'),
      tensors: get('safetensors.tensors'),
      rank: get('safetensors.rank'),
      tensorElements: get('safetensors.tensor_elements'),
      files: get('safetensors.files'),
    }),
    tokenizer: Object.freeze({
      jsonBytes: get('tokenizer.json_bytes'),
      vocab: get('tokenizer.vocab'),
      merges: get('tokenizer.merges'),
      addedTokens: get('tokenizer.added_tokens'),
    }),
  });
}

export const MODEL_LIMITS: ModelLimits = parseModelLimits(JSON.parse(readFileSync(MODEL_LIMITS_FILE, 'utf8')));

/** Longest problem list a validator reports; the rest is summed up in one closing line. */
export const MAX_REPORTED_PROBLEMS = 20;

/** Keeps the first `max` problems and replaces the rest with one line counting them. */
export function capProblems<T>(problems: readonly T[], summarize: (omitted: number) => T, max = MAX_REPORTED_PROBLEMS): T[] {
  if (problems.length <= max) return [...problems];
  return [...problems.slice(0, max), summarize(problems.length - max)];
}
