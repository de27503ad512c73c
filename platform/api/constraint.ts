import { TidepoolError } from '../../protocol/errors.js';
import type { SamplingGrammar } from '../../protocol/sampling.js';
import { AutomatonCache } from '../../protocol/structured-output/automaton-cache.js';
import type { CompiledAutomaton } from '../../protocol/structured-output/compile-grammar.js';
import { StructuredOutputError } from '../../protocol/structured-output/structured-output-error.js';
import { toTransferForm } from '../../protocol/structured-output/transfer-form.js';
import { ChatTemplateError } from '../models/chat-template.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';

/**
 * Constrained decoding for a request: the automaton (from `response_format`, a forced `tool_choice`, a
 * Responses `text.format`) as the sampling record's `grammar`. Automata are compiled once per schema in one
 * process-wide cache (`AutomatonCache`, keyed by the schema's hash); the node registers each with its engine
 * once per hash.
 */
export const automatonCache = new AutomatonCache();

/** The record's `grammar` for a compiled automaton, after checking the function can be constrained at all. */
export function samplingGrammar(fn: ResolvedFunction, compiled: CompiledAutomaton, param: string): SamplingGrammar {
  if (!fn.tokenizer.tokenBytes) {
    throw new TidepoolError('unsupported_parameter', `${param}: function ${fn.name}'s tokenizer is not byte-level BPE, so its output cannot be constrained`, {
      param,
    });
  }
  if (fn.tokenizer.stopTokenIds.length === 0) {
    throw new TidepoolError(
      'unsupported_parameter',
      `${param}: function ${fn.name}'s model has no end-of-sequence token (config.json eos_token_id), so a constrained output could not end`,
      { param },
    );
  }
  return { hash: compiled.hash, automaton: transferForms.get(compiled) ?? remember(compiled) };
}

const transferForms = new WeakMap<CompiledAutomaton, SamplingGrammar['automaton']>();

function remember(compiled: CompiledAutomaton): SamplingGrammar['automaton'] {
  const form = toTransferForm(compiled.dfa);
  transferForms.set(compiled, form);
  return form;
}

/** Runs `build`, turning the structured-output and template modules' errors into coded 400s naming their field. */
export function asRequestError<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof StructuredOutputError) throw new TidepoolError(error.code, error.message, { param: error.param });
    if (error instanceof ChatTemplateError) throw new TidepoolError('invalid_parameter', error.message, { param: error.param });
    throw error;
  }
}
