import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedTensors, ModelConfigError, parameterCount, parseModelConfig } from '../../../platform/models/model-config.js';

const llama = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 320,
  max_position_embeddings: 256,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
};
const qwen2 = { ...llama, architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: true, rope_theta: 1e6 };

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseModelConfig(raw);
  } catch (error) {
    if (error instanceof ModelConfigError) return error.problems;
    throw error;
  }
  throw new Error('config was accepted');
}

describe('parseModelConfig', () => {
  it('reads a Llama config into typed fields', () => {
    const config = parseModelConfig(llama);
    expect(config).toMatchObject({ architecture: 'LlamaForCausalLM', headDim: 16, numKvHeads: 2, tieWordEmbeddings: false, qkvBias: false, ropeTheta: 10000 });
  });

  it('reads rope_theta from rope_parameters, as newer transformers write it', () => {
    const { rope_theta: _omitted, ...rest } = qwen2;
    expect(parseModelConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }).ropeTheta).toBe(5e5);
  });

  it('accepts every committed reference fixture', () => {
    for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-llama-bf16', 'tiny-qwen2-f16']) {
      const raw = JSON.parse(readFileSync(new URL(`../../fixtures/models/${name}/config.json`, import.meta.url), 'utf8'));
      expect(parseModelConfig(raw).vocabSize).toBe(320);
    }
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ ...llama, hidden_size: 0, num_hidden_layers: 2.5, vocab_size: undefined });
    expect(problems).toEqual(
      expect.arrayContaining([
        'hidden_size must be a positive integer, got 0',
        'num_hidden_layers must be a positive integer, got 2.5',
        'vocab_size is required',
      ]),
    );
  });

  it.each([
    ['an unsupported architecture', { ...llama, architectures: ['MistralForCausalLM'] }, /unsupported architecture MistralForCausalLM/],
    ['heads that do not divide hidden', { ...llama, num_attention_heads: 5, num_key_value_heads: 5 }, /num_attention_heads 5 does not divide hidden_size 64/],
    ['kv heads that do not divide heads', { ...llama, num_key_value_heads: 3 }, /num_key_value_heads 3 does not divide num_attention_heads 4/],
    ['rope scaling', { ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope scaling .* is not supported/],
    ['a non-silu activation', { ...llama, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    ['an eos id outside the vocabulary', { ...llama, eos_token_id: 400 }, /token id 400 is outside the vocabulary of 320/],
    ['a head_dim that differs from hidden / heads', { ...llama, head_dim: 32 }, /head_dim 32 differs/],
  ])('rejects %s', (_what, raw, message) => {
    expect(problemsOf(raw).join('\n')).toMatch(message);
  });
});

describe('expectedTensors', () => {
  it('gives Llama untied lm_head and no biases', () => {
    const tensors = expectedTensors(parseModelConfig(llama));
    expect(tensors.get('lm_head.weight')).toEqual([320, 64]);
    expect(tensors.get('model.layers.1.self_attn.k_proj.weight')).toEqual([32, 64]);
    expect(tensors.get('model.layers.0.mlp.down_proj.weight')).toEqual([64, 128]);
    expect([...tensors.keys()].some((name) => name.endsWith('.bias'))).toBe(false);
    expect(tensors.size).toBe(1 + 2 * 9 + 2);
  });

  it('gives Qwen2 q/k/v biases and, when tied, no lm_head', () => {
    const tensors = expectedTensors(parseModelConfig(qwen2));
    expect(tensors.has('lm_head.weight')).toBe(false);
    expect(tensors.get('model.layers.0.self_attn.q_proj.bias')).toEqual([64]);
    expect(tensors.get('model.layers.0.self_attn.v_proj.bias')).toEqual([32]);
    expect(tensors.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
  });

  it('counts parameters', () => {
    expect(parameterCount(parseModelConfig(llama))).toBe(320 * 64 * 2 + 2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 128 + 128) + 64);
  });
});
