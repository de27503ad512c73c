#!/usr/bin/env node
// Writes the committed seed corpus under cuda/fuzz/corpus/: small valid inputs (so the fuzzer starts past
// the checks that reject noise) and edge cases the parsers must refuse, including the crashes fuzzing found
// (crash-*; a fuzzer artifact copied in by hand keeps its own name and is left alone). Rerun after changing it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const fixtures = join(here, '../../test/fixtures/models');
const BYTES = { F32: 4, F16: 2, BF16: 2, I64: 8, I8: 1, BOOL: 1 };

function write(target, name, bytes) {
  mkdirSync(join(here, 'corpus', target), { recursive: true });
  writeFileSync(join(here, 'corpus', target, name), bytes);
}

/** A safetensors image: 8-byte little-endian header length, the header text, then `dataBytes` zero bytes. */
function image(headerText, dataBytes) {
  const header = Buffer.from(headerText);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([prefix, header, Buffer.alloc(dataBytes)]);
}

/** Lays tensors end to end and returns a valid image. */
function packed(tensors, metadata) {
  const header = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, dtype, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return image(JSON.stringify(header), offset);
}

/** A fixture's real tensor names and dtypes with every dimension shrunk to 1 or 2. */
function shrunkFixture(model) {
  const file = readFileSync(join(fixtures, model, 'model.safetensors'));
  const length = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + length).toString());
  delete header.__metadata__;
  return packed(Object.entries(header).map(([name, t]) => [name, t.dtype, t.shape.map((d) => Math.min(d, 2))]), { format: 'pt' });
}

function safetensorsSeeds() {
  write('safetensors', 'valid-one-f32', packed([['w', 'F32', [2, 2]]]));
  write('safetensors', 'valid-mixed-dtypes', packed([['a', 'F16', [3]], ['b', 'BF16', [1, 2]], ['c', 'I64', []], ['d', 'F32', [0, 4]], ['e', 'BOOL', [5]]], { note: 'x' }));
  write('safetensors', 'valid-tiny-llama-names', shrunkFixture('tiny-llama'));
  write('safetensors', 'valid-tiny-qwen2-names', shrunkFixture('tiny-qwen2-f16'));
  const real = readFileSync(join(fixtures, 'tiny-qwen2', 'model.safetensors'));
  write('safetensors', 'header-only-real-qwen2', real.subarray(0, 8 + Number(real.readBigUInt64LE(0))));
  write('safetensors', 'empty-header', image('{}', 0));
  write('safetensors', 'short-prefix', Buffer.from([1, 0, 0]));
  write('safetensors', 'length-past-end', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from('{}')]));
  write('safetensors', 'offsets-reversed', image('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4));
  write('safetensors', 'offsets-huge', image('{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]}}', 4));
  write('safetensors', 'crash-shape-product-wraps', image('{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}', 0));
  write('safetensors', 'not-an-object', image('[1,2,3]', 0));
  write('safetensors', 'deep-nesting', image(`{"w":${'['.repeat(200)}${']'.repeat(200)}}`, 0));
}

function configSeeds() {
  for (const model of ['tiny-llama', 'tiny-llama-bf16', 'tiny-qwen2', 'tiny-qwen2-f16']) {
    write('model_config', `fixture-${model}.json`, readFileSync(join(fixtures, model, 'config.json')));
  }
  const base = {
    architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320, max_position_embeddings: 256,
    rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'float32',
  };
  const variant = (name, patch) => write('model_config', `${name}.json`, JSON.stringify({ ...base, ...patch }));
  variant('minimal-llama', {});
  variant('explicit-head-dim', { hidden_size: 96, num_attention_heads: 4, head_dim: 32 });
  variant('odd-head-dim', { hidden_size: 60, num_attention_heads: 4 });
  variant('kv-heads-not-dividing', { num_key_value_heads: 3 });
  variant('float-dims', { hidden_size: 64.0, vocab_size: 3.2e2 });
  variant('huge-dims', { hidden_size: 1073741824, num_attention_heads: 1, head_dim: 1073741824 });
  variant('crash-q-dim-overflows-int', { hidden_size: 1073741824, num_attention_heads: 1024, num_key_value_heads: 1024, head_dim: 1073741824 });
  variant('rope-scaling', { rope_scaling: { type: 'linear', factor: 2 } });
  variant('unknown-arch', { architectures: ['GPT2LMHeadModel'] });
  write('model_config', 'not-an-object.json', '[]');
  write('model_config', 'truncated.json', JSON.stringify(base).slice(0, 60));
}

function jsonSeeds() {
  write('json', 'hello.json', '{"id":1,"op":"hello"}');
  write('json', 'add.json', '{"id":7,"op":"add","seq":3,"model":"m","prompt":[1,2,3],"max_tokens":16,"temperature":0.7,"top_p":0.95,"seed":18446744073709551615,"stop_ids":[2],"logits":false}');
  write('json', 'load.json', '{"id":2,"op":"load","model":"tiny","dir":"/dev/shm/tidepool/tiny","reserve_tokens":256}');
  write('json', 'escapes.json', '["\\u0041\\n\\t\\"\\\\\\/","\\ud83d\\ude00","\\ud800",""]');
  write('json', 'numbers.json', '[0,-0,-0.0,-1e-999,123456789012345678,9223372036854775807,99999999999999999999,0.1,1.5e300]');
  write('json', 'nesting.json', `${'['.repeat(64)}${']'.repeat(64)}`);
  write('json', 'too-deep.json', `${'['.repeat(70)}${']'.repeat(70)}`);
  write('json', 'literals.json', '{"a":true,"b":false,"c":null,"d":{},"e":[]}');
  write('json', 'trailing.json', '{} x');
}

safetensorsSeeds();
configSeeds();
jsonSeeds();
