import type { ClassDfa } from './determinize.js';

/**
 * The compiled automaton: deterministic over bytes, trimmed (every state can reach an accepting state),
 * minimal, and canonically numbered (breadth-first from the start, edges in byte order), so equal languages
 * give identical automata and identical hashes.
 *
 * A generation may stop (end-of-sequence) only in an accepting state; a byte with no transition is not
 * allowed in that state.
 */
export interface ByteDfa {
  readonly stateCount: number;
  /** The start state: always 0. */
  readonly start: 0;
  /** Ascending. */
  readonly accepting: readonly number[];
  /** Per state, ascending disjoint [lo, hi, next] byte ranges (inclusive); adjacent ranges with one target are merged. */
  readonly transitions: readonly (readonly ByteTransition[])[];
}

export type ByteTransition = readonly [lo: number, hi: number, next: number];

/** Renumbers breadth-first and converts class transitions to merged byte ranges. */
export function canonicalize(dfa: ClassDfa): ByteDfa {
  const k = dfa.classes.count;
  if (dfa.stateCount === 0) return { stateCount: 0, start: 0, accepting: [], transitions: [] };
  const order = [0];
  const newId = new Int32Array(dfa.stateCount).fill(-1);
  newId[0] = 0;
  for (let i = 0; i < order.length; i++) {
    for (let c = 0; c < k; c++) {
      const t = dfa.table[order[i] * k + c];
      if (t >= 0 && newId[t] < 0) {
        newId[t] = order.length;
        order.push(t);
      }
    }
  }
  const transitions = order.map((s) => {
    const ranges: [number, number, number][] = [];
    for (let c = 0; c < k; c++) {
      const t = dfa.table[s * k + c];
      if (t < 0) continue;
      const lo = dfa.classes.bounds[c];
      const hi = dfa.classes.bounds[c + 1] - 1;
      const last = ranges[ranges.length - 1];
      if (last && last[1] + 1 === lo && last[2] === newId[t]) last[1] = hi;
      else ranges.push([lo, hi, newId[t]]);
    }
    return ranges;
  });
  const accepting = order.flatMap((s, i) => (dfa.accepting[s] ? [i] : []));
  return { stateCount: order.length, start: 0, accepting, transitions };
}

/** Dense (stateCount × 256) next-state table, -1 where no transition: for walking bytes quickly. */
export function denseTable(dfa: ByteDfa): Int32Array {
  const table = new Int32Array(dfa.stateCount * 256).fill(-1);
  dfa.transitions.forEach((ranges, s) => {
    for (const [lo, hi, next] of ranges) table.fill(next, s * 256 + lo, s * 256 + hi + 1);
  });
  return table;
}

/** Walks `bytes` from the start; returns the state reached, or -1 when some byte has no transition. */
export function walk(dfa: ByteDfa, bytes: Uint8Array, table: Int32Array = denseTable(dfa)): number {
  let state = dfa.stateCount === 0 ? -1 : 0;
  for (let i = 0; i < bytes.length && state >= 0; i++) state = table[state * 256 + bytes[i]];
  return state;
}

/** Whether the automaton accepts exactly `text` (UTF-8). */
export function accepts(dfa: ByteDfa, text: string | Uint8Array, table?: Int32Array): boolean {
  const state = walk(dfa, typeof text === 'string' ? new TextEncoder().encode(text) : text, table);
  return state >= 0 && dfa.accepting.includes(state);
}
