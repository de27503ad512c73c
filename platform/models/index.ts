/** The model formats module: what the CLI, the control plane and the runtime import. See docs/models.md. */
export * from './safetensors.js';
export * from './safetensors-writer.js';
export * from './model-config.js';
export * from './validate-model.js';
export * from './shapes.js';
export * from './synth.js';
export * from './tokenizer.js';
export * from './chat-template.js';
export { buildTinyTokenizer, END_TOKEN, type TinyTokenizer } from './tiny-tokenizer.js';
