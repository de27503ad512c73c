import type { ModelArchitecture } from './model-config.js';
import type { SafetensorsDtype } from './safetensors.js';

/**
 * Named model shapes for `tidepool synth`: the dimensions of real published models (so memory, switch and
 * step costs are real), filled with random weights. `tiny` is the example chat model: small enough to
 * answer in milliseconds on one CPU core, with a vocabulary that matches the tokenizer synth writes for it.
 */
export interface ModelShape {
  readonly name: string;
  readonly architecture: ModelArchitecture;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly intermediateSize: number;
  /** For `tiny` and `small`, 0: the vocabulary is the tokenizer's size, fixed when the tokenizer is built. */
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  readonly defaultDtype: SafetensorsDtype;
  /** Writes the built-in word tokenizer (tokenizer.json) next to the weights. */
  readonly withTokenizer: boolean;
}

const qwen2 = { architecture: 'Qwen2ForCausalLM', ropeTheta: 1_000_000, defaultDtype: 'BF16', withTokenizer: false } as const;
const llama2 = {
  architecture: 'LlamaForCausalLM',
  ropeTheta: 10_000,
  rmsNormEps: 1e-5,
  vocabSize: 32_000,
  maxPositionEmbeddings: 4096,
  tieWordEmbeddings: false,
  defaultDtype: 'BF16',
  withTokenizer: false,
} as const;

export const MODEL_SHAPES: Readonly<Record<string, ModelShape>> = Object.freeze({
  tiny: {
    name: 'tiny',
    ...qwen2,
    hiddenSize: 256,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 4,
    intermediateSize: 704,
    vocabSize: 0,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-6,
    // Untied so synth can favour whole-word output rows (see synth.ts); answers then read as words.
    tieWordEmbeddings: false,
    defaultDtype: 'F32',
    withTokenizer: true,
  },
  // Eight times tiny's compute per token with tiny's tokenizer: steps of a few milliseconds on a CPU, long
  // enough that scheduling shows (the end-to-end benchmark replays traffic on it).
  small: {
    name: 'small',
    ...qwen2,
    hiddenSize: 512,
    numLayers: 8,
    numHeads: 8,
    numKvHeads: 4,
    intermediateSize: 1408,
    vocabSize: 0,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    defaultDtype: 'F32',
    withTokenizer: true,
  },
  'qwen2.5-0.5b': {
    name: 'qwen2.5-0.5b',
    ...qwen2,
    hiddenSize: 896,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    intermediateSize: 4864,
    vocabSize: 151_936,
    maxPositionEmbeddings: 32_768,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
  },
  'qwen2.5-1.5b': {
    name: 'qwen2.5-1.5b',
    ...qwen2,
    hiddenSize: 1536,
    numLayers: 28,
    numHeads: 12,
    numKvHeads: 2,
    intermediateSize: 8960,
    vocabSize: 151_936,
    maxPositionEmbeddings: 32_768,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
  },
  'qwen2.5-7b': {
    name: 'qwen2.5-7b',
    ...qwen2,
    hiddenSize: 3584,
    numLayers: 28,
    numHeads: 28,
    numKvHeads: 4,
    intermediateSize: 18_944,
    vocabSize: 152_064,
    maxPositionEmbeddings: 32_768,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
  },
  'qwen2.5-14b': {
    name: 'qwen2.5-14b',
    ...qwen2,
    hiddenSize: 5120,
    numLayers: 48,
    numHeads: 40,
    numKvHeads: 8,
    intermediateSize: 13_824,
    vocabSize: 152_064,
    maxPositionEmbeddings: 32_768,
    rmsNormEps: 1e-5,
    tieWordEmbeddings: false,
  },
  'yi-1.5-9b': {
    name: 'yi-1.5-9b',
    ...llama2,
    hiddenSize: 4096,
    numLayers: 48,
    numHeads: 32,
    numKvHeads: 4,
    intermediateSize: 11_008,
    vocabSize: 64_000,
    ropeTheta: 5_000_000,
    rmsNormEps: 1e-6,
  },
  'llama2-7b': { name: 'llama2-7b', ...llama2, hiddenSize: 4096, numLayers: 32, numHeads: 32, numKvHeads: 32, intermediateSize: 11_008 },
  'llama2-13b': { name: 'llama2-13b', ...llama2, hiddenSize: 5120, numLayers: 40, numHeads: 40, numKvHeads: 40, intermediateSize: 13_824 },
});

export function modelShape(name: string): ModelShape {
  const shape = MODEL_SHAPES[name];
  if (!shape) throw new Error(`unknown model shape ${JSON.stringify(name)} (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
  return shape;
}

/** Hugging Face config.json for a shape, as synth writes it. */
export function shapeConfigJson(shape: ModelShape, vocabSize: number, dtype: SafetensorsDtype, eosTokenId?: number): Record<string, unknown> {
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype];
  return {
    architectures: [shape.architecture],
    model_type: shape.architecture === 'Qwen2ForCausalLM' ? 'qwen2' : 'llama',
    hidden_size: shape.hiddenSize,
    num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    num_key_value_heads: shape.numKvHeads,
    head_dim: shape.hiddenSize / shape.numHeads,
    intermediate_size: shape.intermediateSize,
    vocab_size: vocabSize,
    max_position_embeddings: shape.maxPositionEmbeddings,
    rope_theta: shape.ropeTheta,
    rms_norm_eps: shape.rmsNormEps,
    hidden_act: 'silu',
    tie_word_embeddings: shape.tieWordEmbeddings,
    torch_dtype: torchDtype,
    ...(eosTokenId !== undefined ? { eos_token_id: eosTokenId } : {}),
    tidepool_synthetic: { shape: shape.name },
  };
}
