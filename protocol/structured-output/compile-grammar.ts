import { AutomatonLimitError } from './automaton-limit-error.js';
import { canonicalize, type ByteDfa } from './byte-dfa.js';
import { determinize } from './determinize.js';
import type { Grammar } from './grammar.js';
import { grammarSize } from './grammar-size.js';
import { minimize } from './minimize.js';
import { buildNfa } from './nfa.js';
import { StructuredOutputError } from './structured-output-error.js';
import { automatonHash } from './transfer-form.js';

/** Work bounds for one compilation; a hostile schema stops at the first one it crosses. */
export interface AutomatonLimits {
  /** NFA states the grammar may expand to (predicted before any is built). */
  readonly maxNfaStates: number;
  /** States of the DFA before minimisation. */
  readonly maxDfaStates: number;
  /** NFA state visits summed over the subset construction. */
  readonly maxSubsetWork: number;
  /** DFA states × byte classes: the size of the tables minimisation works on. */
  readonly maxTableCells: number;
  /** Byte-range transitions of the result: the engine's `grammar` command takes at most 2^18. */
  readonly maxTransitions: number;
}

export const DEFAULT_AUTOMATON_LIMITS: AutomatonLimits = Object.freeze({
  maxNfaStates: 200_000,
  maxDfaStates: 30_000,
  maxSubsetWork: 4_000_000,
  maxTableCells: 4_000_000,
  maxTransitions: 262_144,
});

export interface CompiledAutomaton {
  readonly dfa: ByteDfa;
  /** sha256 hex of the transfer form: the engine may cache by it. */
  readonly hash: string;
  readonly stats: { readonly nfaStates: number; readonly dfaStatesBeforeMinimizing: number; readonly byteClasses: number };
}

/** Grammar → minimal canonical byte DFA. `param` names the request field for errors. */
export function compileGrammar(grammar: Grammar, param: string, limits: AutomatonLimits = DEFAULT_AUTOMATON_LIMITS): CompiledAutomaton {
  const predicted = grammarSize(grammar, limits.maxNfaStates);
  if (predicted === Infinity) {
    throw new StructuredOutputError(
      'schema_too_large',
      param,
      `schema too large: its automaton would need more than ${limits.maxNfaStates} NFA states; lower maxLength, maxItems, enum sizes or nesting`,
    );
  }
  const nfa = buildNfa(grammar);
  try {
    const raw = determinize(nfa, { maxStates: limits.maxDfaStates, maxSubsetWork: limits.maxSubsetWork });
    if (raw.stateCount * raw.classes.count > limits.maxTableCells) throw new AutomatonLimitError('maxTableCells', limits.maxTableCells);
    if (raw.stateCount === 0) throw new StructuredOutputError('invalid_schema', param, 'schema is unsatisfiable: no JSON value is valid under it');
    const dfa = canonicalize(minimize(raw));
    const transitions = dfa.transitions.reduce((sum, ranges) => sum + ranges.length, 0);
    if (transitions > limits.maxTransitions) throw new AutomatonLimitError('maxTransitions', limits.maxTransitions);
    return { dfa, hash: automatonHash(dfa), stats: { nfaStates: nfa.stateCount, dfaStatesBeforeMinimizing: raw.stateCount, byteClasses: raw.classes.count } };
  } catch (error) {
    if (!(error instanceof AutomatonLimitError)) throw error;
    throw new StructuredOutputError('schema_too_large', param, `schema too large: its automaton exceeds ${error.limit} (${error.value}); simplify the schema`);
  }
}
