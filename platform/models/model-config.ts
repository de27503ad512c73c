import { jsonPreview } from './json-preview.js';
import { MODEL_LIMITS, type LimitedConfigField } from './model-limits.js';

/**
 * Hugging Face `config.json` for the two architectures the engine runs. Both are decoder-only transformers
 * with RMSNorm, RoPE, grouped-query attention and a SwiGLU MLP; Qwen2 adds biases to q/k/v.
 */

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM'] as const;
export type ModelArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export interface ModelConfig {
  readonly architecture: ModelArchitecture;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  /** hiddenSize / numHeads. */
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  /** The model's context length in tokens. */
  readonly maxPositionEmbeddings: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  /** When true, the output projection reuses `model.embed_tokens.weight` and `lm_head.weight` is absent. */
  readonly tieWordEmbeddings: boolean;
  /** Biases on q/k/v projections (always for Qwen2). */
  readonly qkvBias: boolean;
  readonly bosTokenId?: number;
  /** End-of-sequence ids; `eos_token_id` may be a number or a list. */
  readonly eosTokenIds: readonly number[];
  /** `torch_dtype` (or `dtype`) as written, e.g. `bfloat16`; informational. */
  readonly torchDtype?: string;
}

export class ModelConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid config.json: ${problems.join('; ')}`);
    this.name = 'ModelConfigError';
  }
}

type Json = Record<string, unknown>;

/** A positive integer no larger than the shared limit for `field` (cuda/model-limits.json). */
function positiveInt(json: Json, field: LimitedConfigField, problems: string[], fallback?: number): number {
  const value = json[field] ?? fallback;
  if (value === undefined) {
    problems.push(`${field} is required`);
    return 0;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    problems.push(`${field} must be a positive integer, got ${jsonPreview(value)}`);
    return 0;
  }
  const limit = MODEL_LIMITS.config[field];
  if (value > limit) {
    problems.push(`${field} ${value} exceeds the limit of ${limit}`);
    return 0;
  }
  return value;
}

function positiveNumber(value: unknown, field: string, problems: string[]): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    problems.push(`${field} must be a positive number, got ${jsonPreview(value)}`);
    return 0;
  }
  return value;
}

function optionalTokenIds(value: unknown, field: string, problems: string[]): number[] {
  if (value === undefined || value === null) return [];
  const ids = Array.isArray(value) ? value : [value];
  if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0)) {
    problems.push(`${field} must be a token id or a list of token ids, got ${jsonPreview(value)}`);
    return [];
  }
  return ids as number[];
}

function architectureOf(json: Json, problems: string[]): ModelArchitecture | undefined {
  const list = json.architectures;
  if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') {
    problems.push(`architectures must be a one-element list, got ${jsonPreview(list)}`);
    return undefined;
  }
  const name = list[0];
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(name)) {
    problems.push(`unsupported architecture ${name} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
    return undefined;
  }
  return name as ModelArchitecture;
}

/** Features some checkpoints of these architectures use that the engine does not implement. */
function checkUnsupportedFeatures(json: Json, architecture: ModelArchitecture, problems: string[]): void {
  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') problems.push(`hidden_act ${jsonPreview(act)} is not supported (only silu)`);
  const ropeType = (json.rope_parameters as Json | undefined)?.rope_type ?? (json.rope_scaling as Json | null | undefined)?.rope_type;
  if ((json.rope_scaling !== undefined && json.rope_scaling !== null) || (ropeType !== undefined && ropeType !== 'default')) {
    problems.push(`rope scaling ${jsonPreview(json.rope_scaling ?? json.rope_parameters)} is not supported`);
  }
  if (architecture === 'LlamaForCausalLM' && json.attention_bias === true) {
    problems.push('attention_bias true is not supported for LlamaForCausalLM');
  }
  if (json.mlp_bias === true) problems.push('mlp_bias true is not supported');
  if (json.use_sliding_window === true) problems.push('use_sliding_window true is not supported');
}

/** The engine needs theta > 1 (its inverse frequencies are theta^(-2i/d)); 1 or less would not rotate. */
function ropeThetaOf(json: Json, problems: string[]): number {
  const nested = (json.rope_parameters as Json | undefined)?.rope_theta;
  const theta = json.rope_theta ?? nested ?? 10000;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 1) {
    problems.push(`rope_theta must be a number greater than 1, got ${jsonPreview(theta)}`);
    return 0;
  }
  return theta;
}

/** Parses a config.json object; throws `ModelConfigError` listing every problem found. */
export function parseModelConfig(raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelConfigError(['config.json is not a JSON object']);
  const json = raw as Json;
  const problems: string[] = [];
  const architecture = architectureOf(json, problems);
  if (architecture) checkUnsupportedFeatures(json, architecture, problems);
  const hiddenSize = positiveInt(json, 'hidden_size', problems);
  const numLayers = positiveInt(json, 'num_hidden_layers', problems);
  const numHeads = positiveInt(json, 'num_attention_heads', problems);
  const numKvHeads = positiveInt(json, 'num_key_value_heads', problems, numHeads || undefined);
  const intermediateSize = positiveInt(json, 'intermediate_size', problems);
  const vocabSize = positiveInt(json, 'vocab_size', problems);
  const maxPositionEmbeddings = positiveInt(json, 'max_position_embeddings', problems);
  const headDim = numHeads > 0 && hiddenSize % numHeads === 0 ? hiddenSize / numHeads : 0;
  if (numHeads > 0 && hiddenSize > 0 && hiddenSize % numHeads !== 0) {
    problems.push(`num_attention_heads ${numHeads} does not divide hidden_size ${hiddenSize}`);
  }
  if (numKvHeads > 0 && numHeads > 0 && numHeads % numKvHeads !== 0) {
    problems.push(`num_key_value_heads ${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  }
  if (headDim % 2 === 1) problems.push(`head dimension ${headDim} must be even for rotary embeddings`);
  if (headDim > MODEL_LIMITS.config.head_dim)
    problems.push(`head dimension ${headDim} (hidden_size / num_attention_heads) exceeds the limit of ${MODEL_LIMITS.config.head_dim}`);
  if (json.head_dim !== undefined && json.head_dim !== null && headDim > 0 && json.head_dim !== headDim) {
    problems.push(`head_dim ${jsonPreview(json.head_dim)} differs from hidden_size / num_attention_heads = ${headDim}`);
  }
  const ropeTheta = ropeThetaOf(json, problems);
  const rmsNormEps = positiveNumber(json.rms_norm_eps ?? 1e-6, 'rms_norm_eps', problems);
  const tie = json.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') problems.push(`tie_word_embeddings must be a boolean, got ${jsonPreview(tie)}`);
  const eosTokenIds = optionalTokenIds(json.eos_token_id, 'eos_token_id', problems);
  const bos = optionalTokenIds(json.bos_token_id, 'bos_token_id', problems);
  for (const id of [...eosTokenIds, ...bos]) {
    if (vocabSize > 0 && id >= vocabSize) problems.push(`token id ${id} is outside the vocabulary of ${vocabSize}`);
  }
  if (problems.length > 0 || !architecture) throw new ModelConfigError(problems);
  const dtype = json.torch_dtype ?? json.dtype;
  return Object.freeze({
    architecture,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    maxPositionEmbeddings,
    ropeTheta,
    rmsNormEps,
    tieWordEmbeddings: tie === true,
    qkvBias: architecture === 'Qwen2ForCausalLM',
    ...(bos.length > 0 ? { bosTokenId: bos[0] } : {}),
    eosTokenIds: Object.freeze(eosTokenIds),
    ...(typeof dtype === 'string' ? { torchDtype: dtype } : {}),
  });
}

/**
 * Every tensor the engine reads, name → shape (row-major, as PyTorch stores `nn.Linear` weights:
 * `[out_features, in_features]`). A tied model has no `lm_head.weight`.
 */
export function expectedTensors(config: ModelConfig): Map<string, readonly number[]> {
  const { hiddenSize: h, headDim, numHeads, numKvHeads, intermediateSize: ff } = config;
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;
  const tensors = new Map<string, readonly number[]>();
  tensors.set('model.embed_tokens.weight', [config.vocabSize, h]);
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    tensors.set(`${p}.input_layernorm.weight`, [h]);
    tensors.set(`${p}.self_attn.q_proj.weight`, [qDim, h]);
    tensors.set(`${p}.self_attn.k_proj.weight`, [kvDim, h]);
    tensors.set(`${p}.self_attn.v_proj.weight`, [kvDim, h]);
    if (config.qkvBias) {
      tensors.set(`${p}.self_attn.q_proj.bias`, [qDim]);
      tensors.set(`${p}.self_attn.k_proj.bias`, [kvDim]);
      tensors.set(`${p}.self_attn.v_proj.bias`, [kvDim]);
    }
    tensors.set(`${p}.self_attn.o_proj.weight`, [h, qDim]);
    tensors.set(`${p}.post_attention_layernorm.weight`, [h]);
    tensors.set(`${p}.mlp.gate_proj.weight`, [ff, h]);
    tensors.set(`${p}.mlp.up_proj.weight`, [ff, h]);
    tensors.set(`${p}.mlp.down_proj.weight`, [h, ff]);
  }
  tensors.set('model.norm.weight', [h]);
  if (!config.tieWordEmbeddings) tensors.set('lm_head.weight', [config.vocabSize, h]);
  return tensors;
}

/** Number of weights (parameters) the model has. */
export function parameterCount(config: ModelConfig): number {
  let total = 0;
  for (const shape of expectedTensors(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
