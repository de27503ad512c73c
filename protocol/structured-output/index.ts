/**
 * Structured outputs, the pure core: JSON Schema / response_format / tool-call envelopes → byte-level DFA
 * that the engine applies as a token mask. No I/O. See docs/structured-outputs.md.
 */
export { StructuredOutputError, jsonPointer, type StructuredOutputErrorCode } from './structured-output-error.js';
export { compileResponseFormat, compileJsonSchema, parseResponseFormat, type ResponseFormat, type StructuredOutputOptions } from './response-format.js';
export { compileToolCalls, toolCallGrammar, type ToolCallEnvelope, type ToolSpec } from './tool-call-grammar.js';
export { compileGrammar, DEFAULT_AUTOMATON_LIMITS, type AutomatonLimits, type CompiledAutomaton } from './compile-grammar.js';
export { AutomatonCache } from './automaton-cache.js';
export { accepts, walk, denseTable, type ByteDfa, type ByteTransition } from './byte-dfa.js';
export {
  toTransferForm,
  fromTransferForm,
  toEngineGrammar,
  automatonHash,
  TRANSFER_FORMAT,
  type ByteDfaTransferForm,
  type EngineGrammarFields,
} from './transfer-form.js';
export { DEFAULT_JSON_STYLE, jsonText, type JsonStyle, type JsonWhitespace } from './json-style.js';
export { DEFAULT_SCHEMA_SHAPE_LIMITS, type SchemaShapeLimits } from './schema-shape.js';
export { schemaToGrammar } from './schema-compiler.js';
export * as grammar from './grammar.js';
