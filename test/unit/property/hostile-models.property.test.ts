import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, expectedTensors, parseModelConfig, type ModelConfig } from '../../../platform/models/model-config.js';
import { LIMITED_CONFIG_FIELDS, MAX_REPORTED_PROBLEMS, MODEL_LIMITS } from '../../../platform/models/model-limits.js';
import { parseSafetensorsHeader, SafetensorsError, type SafetensorsHeader } from '../../../platform/models/safetensors.js';
import { tokenizerJsonProblems } from '../../../platform/models/tokenizer-check.js';
import { checkModelParts } from '../../../platform/models/validate-model.js';

// Hostile models: configs, safetensors headers and tokenizers whose numbers an attacker picked. Whatever they
// claim, the validators answer within the shared limits (cuda/model-limits.json): an accepted config never
// implies more than the limits allow, a refusal names the field, and problem lists stay short.

const validConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 320,
  max_position_embeddings: 256,
};
/** Counts an attacker would pick: near the limits, far past them, and past what a double holds exactly. */
const hostileCount = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 53 }),
  fc.constantFrom(...LIMITED_CONFIG_FIELDS.map((f) => MODEL_LIMITS.config[f]), 1_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300),
  fc.integer({ min: 1, max: 4096 }),
);
const hostilePatch = fc.dictionary(fc.constantFrom(...LIMITED_CONFIG_FIELDS), hostileCount, { minKeys: 1, maxKeys: 4 });

describe('hostile config.json (property)', () => {
  it('accepts only configs within every limit, and names each field past its limit', () => {
    fc.assert(
      fc.property(hostilePatch, (patch) => {
        let config: ModelConfig;
        try {
          config = parseModelConfig({ ...validConfig, ...patch });
        } catch (error) {
          expect(error).toBeInstanceOf(ModelConfigError);
          const problems = (error as ModelConfigError).problems.join('\n');
          for (const [field, value] of Object.entries(patch)) {
            const limit = MODEL_LIMITS.config[field as keyof typeof MODEL_LIMITS.config];
            if (Number.isSafeInteger(value) && value > limit && field !== 'head_dim')
              expect(problems).toContain(`${field} ${value} exceeds the limit of ${limit}`);
          }
          return;
        }
        expect(config.hiddenSize).toBeLessThanOrEqual(MODEL_LIMITS.config.hidden_size);
        expect(config.numLayers).toBeLessThanOrEqual(MODEL_LIMITS.config.num_hidden_layers);
        expect(config.vocabSize).toBeLessThanOrEqual(MODEL_LIMITS.config.vocab_size);
        expect(config.maxPositionEmbeddings).toBeLessThanOrEqual(MODEL_LIMITS.config.max_position_embeddings);
        expect(config.headDim).toBeLessThanOrEqual(MODEL_LIMITS.config.head_dim);
        expect(expectedTensors(config).size).toBeLessThanOrEqual(3 + 12 * MODEL_LIMITS.config.num_hidden_layers);
      }),
      { numRuns: 1000 },
    );
  });

  it('reports at most a capped list of problems, however many tensors a config claims and lacks', () => {
    fc.assert(
      fc.property(hostilePatch, (patch) => {
        const check = checkModelParts({ ...validConfig, ...patch }, []);
        expect(check.ok).toBe(false);
        if (!check.ok) expect(check.problems.length).toBeLessThanOrEqual(MAX_REPORTED_PROBLEMS + 1);
      }),
      { numRuns: 300 },
    );
  });
});

/** A safetensors image whose header holds `entries`, with `dataBytes` zero bytes after it. */
function image(entries: unknown, dataBytes: number): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(entries));
  const bytes = new Uint8Array(8 + header.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  return bytes;
}

describe('hostile safetensors headers (property)', () => {
  const dim = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 2 ** 53 }), fc.constantFrom(2 ** 20, 2 ** 31, 2 ** 32, 2 ** 40));
  const tensor = fc.record({
    dtype: fc.constantFrom('F32', 'F16', 'BF16'),
    shape: fc.array(dim, { maxLength: 12 }),
    data_offsets: fc.tuple(fc.integer({ min: 0, max: 64 }), fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 2 ** 53 }))),
  });

  it('answers any claimed shape with a header inside the limits or a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tensor, { maxKeys: 6 }), fc.integer({ min: 0, max: 64 }), (entries, dataBytes) => {
        const bytes = image(entries, dataBytes);
        let header: SafetensorsHeader;
        try {
          header = parseSafetensorsHeader(bytes, bytes.length, 'hostile.safetensors');
        } catch (error) {
          expect(error, String(error)).toBeInstanceOf(SafetensorsError);
          return;
        }
        for (const t of header.tensors) {
          expect(t.shape.length).toBeLessThanOrEqual(MODEL_LIMITS.safetensors.rank);
          expect(t.shape.reduce((a, b) => a * b, 1)).toBeLessThanOrEqual(MODEL_LIMITS.safetensors.tensorElements);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a claimed header length past the limit before reading it', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: BigInt(MODEL_LIMITS.safetensors.headerBytes) + 1n, max: 2n ** 64n - 1n }), (claimed) => {
        const prefix = new Uint8Array(8);
        new DataView(prefix.buffer).setBigUint64(0, claimed, true);
        expect(() => parseSafetensorsHeader(prefix, Number.MAX_SAFE_INTEGER, 'hostile.safetensors')).toThrow(/exceeds the \d+-byte limit/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('hostile tokenizer.json (property)', () => {
  it('refuses ids outside the vocabulary and malformed ids, and accepts a tokenizer that fits', () => {
    const vocab = fc.dictionary(
      fc.string({ maxLength: 4 }),
      fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: -3, max: 2 ** 53 }), fc.constant(1.5)),
      { maxKeys: 30 },
    );
    fc.assert(
      fc.property(
        vocab,
        fc.array(fc.record({ id: fc.integer({ min: 0, max: 400 }) }), { maxLength: 4 }),
        fc.integer({ min: 1, max: 400 }),
        (v, added, vocabSize) => {
          const problems = tokenizerJsonProblems({ model: { type: 'BPE', vocab: v, merges: [] }, added_tokens: added }, vocabSize);
          const ids = [...Object.values(v), ...added.map((a) => a.id)];
          const fits = ids.every((id) => Number.isSafeInteger(id) && id >= 0 && id < vocabSize);
          expect(problems.length === 0).toBe(fits);
          expect(problems.length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
