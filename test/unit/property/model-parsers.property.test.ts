import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonPreview } from '../../../platform/models/json-preview.js';
import { ModelConfigError, parseModelConfig } from '../../../platform/models/model-config.js';
import { parseSafetensorsHeader, SafetensorsError, tensorByteLength, type SafetensorsDtype } from '../../../platform/models/safetensors.js';
import { safetensorsLayout } from '../../../platform/models/safetensors-writer.js';

// Property tests of the parsers that read uploaded model files on the server: safetensors headers and
// config.json. Arbitrary bytes get the parser's own error, never a RangeError, TypeError or hang.

/** Runs `parse`; a throw must be `errorType`. Returns the result, or undefined when refused. */
function refusedOr<T>(parse: () => T, errorType: new (...args: never[]) => Error): T | undefined {
  try {
    return parse();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(errorType);
    return undefined;
  }
}

/** A safetensors image: 8-byte little-endian header length, the header text, then `dataBytes` zero bytes. */
function image(headerText: string, dataBytes = 0): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const bytes = new Uint8Array(8 + header.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  return bytes;
}

const parseImage = (bytes: Uint8Array) => parseSafetensorsHeader(bytes, bytes.length, 'fuzz.safetensors');

const dtype = fc.constantFrom<SafetensorsDtype>('F32', 'F16', 'BF16');
const tensorSpecs = fc.uniqueArray(
  fc.record({
    name: fc.string({ minLength: 1, maxLength: 20 }).filter((n) => n !== '__metadata__'),
    dtype,
    shape: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
  }),
  { selector: (t) => t.name, maxLength: 6 },
);

/** Values a header field might hold, plausible and not. */
const fieldValue = fc.oneof(
  fc.jsonValue(),
  fc.array(fc.integer({ min: -2, max: 2 ** 53 }), { maxLength: 4 }),
  fc.constantFrom('F32', 'F16', 'BF16', 'I64', [0, 4], [4, 0], [0, 2 ** 53], [1e300, 1e300]),
);
const headerObject = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 8 }), fc.constant('__metadata__')),
  fc.oneof(fc.record({ dtype: fieldValue, shape: fieldValue, data_offsets: fieldValue }, { requiredKeys: [] }), fc.jsonValue()),
  { maxKeys: 4 },
);

describe('safetensors header parser (property)', () => {
  it('answers arbitrary bytes with a header or a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => void refusedOr(() => parseImage(bytes), SafetensorsError)),
      { numRuns: 500 },
    );
  });

  it('answers arbitrary header JSON with a header whose tensors tile the data, or a SafetensorsError', () => {
    fc.assert(
      fc.property(headerObject, fc.integer({ min: 0, max: 64 }), (header, dataBytes) => {
        const parsed = refusedOr(() => parseImage(image(JSON.stringify(header), dataBytes)), SafetensorsError);
        if (!parsed) return;
        let cursor = 0;
        for (const t of parsed.tensors) {
          expect(t.dataOffsets[0]).toBe(cursor);
          expect(t.dataOffsets[1] - t.dataOffsets[0]).toBe(tensorByteLength(t.dtype, t.shape));
          cursor = t.dataOffsets[1];
        }
        expect(cursor).toBe(parsed.dataBytes);
      }),
      { numRuns: 500 },
    );
  });

  it('reads back what the writer lays out, and refuses every truncation of it', () => {
    fc.assert(
      fc.property(tensorSpecs, fc.nat(), (specs, cut) => {
        const layout = safetensorsLayout(specs);
        const file = new Uint8Array(layout.fileBytes);
        file.set(layout.header);
        const parsed = parseImage(file);
        const byName = (tensors: readonly { name: string }[]) => new Map(tensors.map((t) => [t.name, t]));
        expect(byName(parsed.tensors)).toEqual(byName(layout.tensors));
        expect(() => parseImage(file.subarray(0, cut % file.length))).toThrow(SafetensorsError);
      }),
      { numRuns: 200 },
    );
  });

  it('writes and reads back a tensor named __proto__ as a tensor', () => {
    // Counterexample found here: the writer assigned it on a plain object, which set the prototype instead.
    const layout = safetensorsLayout([{ name: '__proto__', dtype: 'F32', shape: [1] }]);
    const file = new Uint8Array(layout.fileBytes);
    file.set(layout.header);
    expect(parseImage(file).tensors.map((t) => t.name)).toEqual(['__proto__']);
  });

  it('refuses a shape nested too deeply to print with a SafetensorsError, not a RangeError', () => {
    // Counterexample found here: the error message stringified the shape, which recursed past the stack.
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const bytes = image(`{"w":{"dtype":"F32","shape":${deep},"data_offsets":[0,0]}}`);
    expect(() => parseImage(bytes)).toThrow(/tensor w: shape <deeply nested array> is not a list of non-negative integers/);
    const long = image(`{"w":{"dtype":"F32","shape":[${Array(50_000).fill('"x"').join(',')}],"data_offsets":[0,0]}}`);
    expect(() => parseImage(long)).toThrow(/characters\) is not a list/);
  });
});

const CONFIG_FIELDS = [
  'architectures',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'intermediate_size',
  'vocab_size',
  'max_position_embeddings',
  'rope_theta',
  'rms_norm_eps',
  'tie_word_embeddings',
  'eos_token_id',
  'bos_token_id',
  'head_dim',
  'hidden_act',
  'rope_scaling',
  'rope_parameters',
  'torch_dtype',
];
const validConfig = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 320,
  max_position_embeddings: 256,
};
const configValue = fc.oneof(
  fc.jsonValue(),
  fc.integer({ min: -4, max: 2 ** 31 }),
  fc.constantFrom(['LlamaForCausalLM'], ['Qwen2ForCausalLM'], 'silu', { rope_type: 'default' }, null, 1e-6, 2 ** 53),
);

describe('config.json parser (property)', () => {
  it('answers any JSON value with a config or a ModelConfigError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => void refusedOr(() => parseModelConfig(value), ModelConfigError)),
      { numRuns: 300 },
    );
  });

  it('keeps the invariants of every config it accepts, whatever each field holds', () => {
    const patch = fc.dictionary(fc.constantFrom(...CONFIG_FIELDS), configValue, { maxKeys: 4 });
    fc.assert(
      fc.property(patch, (fields) => {
        const config = refusedOr(() => parseModelConfig({ ...validConfig, ...fields }), ModelConfigError);
        if (!config) return;
        expect(config.headDim * config.numHeads).toBe(config.hiddenSize);
        expect(config.headDim % 2).toBe(0);
        expect(config.numHeads % config.numKvHeads).toBe(0);
        for (const id of config.eosTokenIds) expect(id).toBeLessThan(config.vocabSize);
        expect(Number.isFinite(config.ropeTheta) && config.ropeTheta > 0 && config.rmsNormEps > 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names each field of an invalid config in its error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('hidden_size', 'num_hidden_layers', 'vocab_size', 'intermediate_size'),
        fc.oneof(fc.constant(0), fc.constant(-1), fc.constant(1.5), fc.string()),
        (field, value) => {
          expect(() => parseModelConfig({ ...validConfig, [field]: value })).toThrow(new RegExp(`${field} must be a positive integer`));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a deeply nested field with a ModelConfigError, not a RangeError', () => {
    // Counterexample found here: the message stringified the value, which recursed past the stack.
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    expect(() => parseModelConfig({ ...validConfig, architectures: deep })).toThrow(/architectures must be a one-element list, got <deeply nested array>/);
    expect(() => parseModelConfig({ ...validConfig, rope_scaling: deep })).toThrow(ModelConfigError);
    expect(jsonPreview('x'.repeat(500))).toMatch(/^"x{119}… \(502 characters\)$/);
  });
});
