import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, parseModelConfig } from '../../../platform/models/model-config.js';
import { LIMITED_CONFIG_FIELDS, MODEL_LIMITS, MODEL_LIMITS_FILE, parseModelLimits } from '../../../platform/models/model-limits.js';
import { parseSafetensorsHeader, SafetensorsError } from '../../../platform/models/safetensors.js';
import { byteLevelVocabProblems, tokenizerJsonProblems } from '../../../platform/models/tokenizer-check.js';
import { checkModelParts } from '../../../platform/models/validate-model.js';

// The control plane's side of the shared model limits (cuda/model-limits.json); the engine's side is the
// ctest test_model_limits, over the header CMake generates from the same file.

const base = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 320,
  max_position_embeddings: 256,
};

/** A consistent config with one field set to `value` (heads chosen so divisibility still holds). */
function configWith(field: string, value: number): Record<string, unknown> {
  if (field === 'num_attention_heads') return { ...base, num_attention_heads: value, num_key_value_heads: 1, hidden_size: 2 * value };
  if (field === 'num_key_value_heads') return { ...base, num_attention_heads: value, num_key_value_heads: value, hidden_size: 2 * value };
  if (field === 'hidden_size') return { ...base, hidden_size: value, num_attention_heads: 256 };
  if (field === 'head_dim') return { ...base, hidden_size: 2 * value, num_attention_heads: 2, num_key_value_heads: 2 };
  return { ...base, [field]: value };
}

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseModelConfig(raw);
    return [];
  } catch (error) {
    if (error instanceof ModelConfigError) return error.problems;
    throw error;
  }
}

function header(entries: Record<string, unknown>): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(entries));
  const bytes = new Uint8Array(8 + text.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  return bytes;
}

describe('shared model limits', () => {
  it('reads every limit from the one table the engine build also reads', () => {
    const raw = JSON.parse(readFileSync(MODEL_LIMITS_FILE, 'utf8')) as Record<string, unknown>;
    expect(MODEL_LIMITS.config.num_hidden_layers).toBe(raw['config.num_hidden_layers']);
    expect(MODEL_LIMITS.safetensors.headerBytes).toBe(raw['safetensors.header_bytes']);
    expect(() => parseModelLimits({ ...raw, 'config.hidden_size': -1 })).toThrow(/config.hidden_size must be a positive integer/);
  });

  it('matches the header the engine was built with, when it is built', (context) => {
    const generated = new URL('../../../cuda/build/generated/model_limits.h', import.meta.url);
    if (!existsSync(generated)) {
      console.log('skip: cuda/build/generated/model_limits.h is absent (build the engine with node scripts/build-engine.mjs)');
      return context.skip();
    }
    const constants = Object.fromEntries([...readFileSync(generated, 'utf8').matchAll(/constexpr int64_t (\w+) = (\d+);/g)].map((m) => [m[1]!, Number(m[2])]));
    const raw = JSON.parse(readFileSync(MODEL_LIMITS_FILE, 'utf8')) as Record<string, unknown>;
    const table = Object.fromEntries(
      Object.entries(raw)
        .filter(([, v]) => typeof v === 'number')
        .map(([k, v]) => [k.replace('.', '_'), v]),
    );
    expect(constants).toEqual(table);
  });

  it.each(LIMITED_CONFIG_FIELDS.filter((f) => f !== 'head_dim'))('accepts %s at its limit and refuses it one above, naming the field', (field) => {
    const limit = MODEL_LIMITS.config[field];
    expect(problemsOf(configWith(field, limit))).toEqual([]);
    const over = limit + 2; // even, so divisibility by the other fields still holds
    expect(problemsOf(configWith(field, over))).toContain(`${field} ${over} exceeds the limit of ${limit}`);
  });

  it('refuses a head dimension past the limit', () => {
    expect(problemsOf(configWith('head_dim', MODEL_LIMITS.config.head_dim))).toEqual([]);
    expect(problemsOf(configWith('head_dim', MODEL_LIMITS.config.head_dim + 2)).join()).toMatch(/head dimension 258 .* exceeds the limit of 256/);
  });

  it('refuses the million-layer config at once, without building its tensor map', () => {
    const hostile = JSON.parse(readFileSync(new URL('../../fixtures/hostile/config.json', import.meta.url), 'utf8'));
    const started = performance.now();
    const check = checkModelParts(hostile, []);
    expect(check.ok).toBe(false);
    expect(check.ok ? [] : check.problems.map((p) => p.message)).toEqual([
      `config.json: num_hidden_layers 1000000 exceeds the limit of ${MODEL_LIMITS.config.num_hidden_layers}`,
    ]);
    console.log(`million-layer config refused in ${(performance.now() - started).toFixed(2)} ms`);
  });

  it('caps the problem list of a model at its limits with nothing in its weights', () => {
    const check = checkModelParts({ ...base, num_hidden_layers: MODEL_LIMITS.config.num_hidden_layers }, []);
    if (check.ok) throw new Error('accepted');
    expect(check.problems).toHaveLength(21);
    expect(check.problems.at(-1)).toMatchObject({ code: 'more_problems', message: expect.stringMatching(/^and \d+ more problem\(s\)$/) });
  });

  it('refuses safetensors headers past the rank, element and tensor-count limits', () => {
    const rank = Array.from({ length: MODEL_LIMITS.safetensors.rank + 1 }, () => 1);
    expect(() => parseSafetensorsHeader(header({ t: { dtype: 'F32', shape: rank, data_offsets: [0, 4] } }), 10_000)).toThrow(/rank 9 exceeds the limit of 8/);
    const huge = [2 ** 30, 2 ** 30];
    expect(() => parseSafetensorsHeader(header({ t: { dtype: 'F32', shape: huge, data_offsets: [0, 0] } }), 10_000)).toThrow(
      /exceeds the limit of 1099511627776 elements/,
    );
    const many = Object.fromEntries(
      Array.from({ length: MODEL_LIMITS.safetensors.tensors + 1 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]),
    );
    const bytes = header(many);
    expect(() => parseSafetensorsHeader(bytes, bytes.length)).toThrow(SafetensorsError);
    expect(() => parseSafetensorsHeader(bytes, bytes.length)).toThrow(/65537 tensors exceed the limit of 65536/);
  });
});

describe('tokenizer checks at deploy', () => {
  const bpe = (vocab: Record<string, number>, added: { id: number }[] = []) => ({ model: { type: 'BPE', vocab, merges: [] }, added_tokens: added });

  it('accepts a tokenizer whose ids all lie inside the vocabulary', () => {
    expect(tokenizerJsonProblems(bpe({ a: 0, b: 1 }, [{ id: 2 }]), 3)).toEqual([]);
  });

  it('refuses a tokenizer that emits ids beyond the model vocabulary, naming the token', () => {
    expect(tokenizerJsonProblems(bpe({ a: 0, b: 1 }, [{ id: 2796 }]), 320)).toEqual([
      "tokenizer.json: added_tokens[0] has id 2796, outside the model's vocabulary of 320 (config.json vocab_size): the tokenizer does not belong to this model",
    ]);
    expect(tokenizerJsonProblems(bpe({ a: 0, zz: 400 }), 320)[0]).toMatch(/token "zz" has id 400/);
    expect(tokenizerJsonProblems({ model: { type: 'Unigram', vocab: Array.from({ length: 5 }, (_, i) => [`p${i}`, 0]) } }, 4)[0]).toMatch(
      /model.vocab\[4\] has id 4/,
    );
  });

  it('refuses malformed ids and counts past the limits before reading them', () => {
    expect(tokenizerJsonProblems(bpe({ a: -1 }), 10)[0]).toMatch(/token "a" has id -1, not a non-negative integer/);
    const merges = { model: { type: 'BPE', vocab: {}, merges: { length: 0 } } };
    expect(tokenizerJsonProblems(merges, 10)).toEqual([]);
    const tooMany = { model: { type: 'BPE', vocab: {}, merges: new Array(MODEL_LIMITS.tokenizer.merges + 1) } };
    expect(tokenizerJsonProblems(tooMany, 10)).toEqual([
      `tokenizer.json: ${MODEL_LIMITS.tokenizer.merges + 1} merges exceed the limit of ${MODEL_LIMITS.tokenizer.merges}`,
    ]);
    expect(tokenizerJsonProblems([], 10)).toEqual(['tokenizer.json: must be a JSON object']);
  });

  it('refuses a byte-level model whose vocabulary cannot hold the 256 byte ids', () => {
    expect(byteLevelVocabProblems(320)).toEqual([]);
    expect(byteLevelVocabProblems(200)[0]).toMatch(/vocab_size 200 is smaller than the 256 byte ids/);
  });
});
