import { createHash } from 'node:crypto';
import type { ByteDfa, ByteTransition } from './byte-dfa.js';

/**
 * The automaton as it crosses a process boundary (control plane → node → engine), JSON-ready:
 *
 *     {"format": "byte-dfa-v1", "states": 3, "start": 0, "accepting": [2],
 *      "transitions": [[lo, hi, next, lo, hi, next, ...] per state]}
 *
 * Per state, the flat triples are ascending, disjoint, inclusive byte ranges; a byte outside them has no
 * transition (the token is masked). End-of-sequence is allowed only in `accepting` states.
 */
export interface ByteDfaTransferForm {
  readonly format: typeof TRANSFER_FORMAT;
  readonly states: number;
  readonly start: 0;
  readonly accepting: readonly number[];
  readonly transitions: readonly (readonly number[])[];
}

export const TRANSFER_FORMAT = 'byte-dfa-v1';

export function toTransferForm(dfa: ByteDfa): ByteDfaTransferForm {
  return {
    format: TRANSFER_FORMAT,
    states: dfa.stateCount,
    start: 0,
    accepting: dfa.accepting,
    transitions: dfa.transitions.map((ranges) => ranges.flat()),
  };
}

/**
 * The fields of the engine's `grammar` command (docs/engine-protocol.md): the same automaton with its
 * transitions as one flat list of [from, lo, hi, to] quadruples. The caller adds `op`, `id` and the
 * `grammar` name (the automaton's hash is a natural one: equal automata, one registration).
 */
export interface EngineGrammarFields {
  readonly states: number;
  readonly start: 0;
  readonly accepting: readonly number[];
  readonly transitions: readonly number[];
}

export function toEngineGrammar(dfa: ByteDfa): EngineGrammarFields {
  const transitions: number[] = [];
  dfa.transitions.forEach((ranges, from) => {
    for (const [lo, hi, to] of ranges) transitions.push(from, lo, hi, to);
  });
  return { states: dfa.stateCount, start: 0, accepting: dfa.accepting, transitions };
}

/** sha256 (hex) of the transfer form's JSON: equal automata, equal hashes. */
export function automatonHash(dfa: ByteDfa): string {
  return createHash('sha256')
    .update(JSON.stringify(toTransferForm(dfa)))
    .digest('hex');
}

/** Reads a transfer form received from elsewhere, checking every invariant; throws a TypeError naming the first problem. */
export function fromTransferForm(raw: unknown): ByteDfa {
  const form = raw as Partial<ByteDfaTransferForm> | null;
  if (typeof form !== 'object' || form === null) throw new TypeError('automaton: must be an object');
  if (form.format !== TRANSFER_FORMAT) throw new TypeError(`automaton.format: must be "${TRANSFER_FORMAT}"`);
  const states = form.states;
  if (!Number.isSafeInteger(states) || states! < 0) throw new TypeError('automaton.states: must be a non-negative integer');
  const n = states!;
  if (form.start !== 0) throw new TypeError('automaton.start: must be 0');
  const isState = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < n;
  const accepting = form.accepting;
  if (!Array.isArray(accepting) || !accepting.every((s, i) => isState(s) && (i === 0 || s > accepting[i - 1]))) {
    throw new TypeError('automaton.accepting: must be ascending state numbers');
  }
  if (!Array.isArray(form.transitions) || form.transitions.length !== n) throw new TypeError(`automaton.transitions: must have one entry per state (${n})`);
  const transitions = form.transitions.map((flat, s) => readRanges(flat, s, isState));
  return { stateCount: n, start: 0, accepting: [...accepting], transitions };
}

function readRanges(flat: unknown, s: number, isState: (v: unknown) => boolean): ByteTransition[] {
  if (!Array.isArray(flat) || flat.length % 3 !== 0) throw new TypeError(`automaton.transitions[${s}]: must be flat [lo, hi, next] triples`);
  const ranges: ByteTransition[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    const [lo, hi, next] = flat.slice(i, i + 3) as number[];
    const previousHi = i === 0 ? -1 : (flat[i - 2] as number);
    const byte = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 255;
    if (!byte(lo) || !byte(hi) || lo > hi || lo <= previousHi || !isState(next)) {
      throw new TypeError(`automaton.transitions[${s}][${i / 3}]: must be an ascending, disjoint byte range 0-255 with a valid next state`);
    }
    ranges.push([lo, hi, next]);
  }
  return ranges;
}
