import { AutomatonLimitError } from './automaton-limit-error.js';
import { byteClassesOf, type ByteClasses } from './byte-classes.js';
import { liveStates, type Nfa } from './nfa.js';

/** A DFA over byte classes: state 0 is the start; -1 in `table` means no transition. */
export interface ClassDfa {
  readonly stateCount: number;
  readonly classes: ByteClasses;
  /** (stateCount, classes.count) next state or -1. */
  readonly table: Int32Array;
  /** (stateCount) 1 where accepting. */
  readonly accepting: Uint8Array;
}

export interface DeterminizeLimits {
  /** Most DFA states. */
  readonly maxStates: number;
  /** Most NFA state visits summed over all subsets (bounds time and key memory). */
  readonly maxSubsetWork: number;
}

/**
 * Subset construction over the live part of `nfa` only, so every DFA state can still reach acceptance.
 * A subset is keyed by its NFA states that carry byte edges (plus the final state): ε-only states add
 * nothing to what a subset accepts next. An empty language gives a DFA with zero states.
 */
export function determinize(nfa: Nfa, limits: DeterminizeLimits): ClassDfa {
  const live = liveStates(nfa);
  const classes = byteClassesOf(liveRanges(nfa, live));
  const k = classes.count;
  if (!live[nfa.start]) return { stateCount: 0, classes, table: new Int32Array(0), accepting: new Uint8Array(0) };

  const closure = new ClosureFinder(nfa, live);
  const ids = new Map<string, number>();
  const subsets: Int32Array[] = [];
  let work = 0;
  const intern = (subset: Int32Array): number => {
    const key = subset.join(',');
    const known = ids.get(key);
    if (known !== undefined) return known;
    if (subsets.length >= limits.maxStates) throw new AutomatonLimitError('maxDfaStates', limits.maxStates);
    work += subset.length;
    if (work > limits.maxSubsetWork) throw new AutomatonLimitError('maxSubsetWork', limits.maxSubsetWork);
    ids.set(key, subsets.length);
    subsets.push(subset);
    return subsets.length - 1;
  };

  intern(closure.of([nfa.start]));
  const rows: Int32Array[] = [];
  const buckets: number[][] = Array.from({ length: k }, () => []);
  for (let d = 0; d < subsets.length; d++) {
    for (const s of subsets[d]) {
      const e = nfa.edges[s];
      for (let i = 0; i < e.length; i += 3) {
        if (!live[e[i + 2]]) continue;
        for (let c = classes.classOf[e[i]]; c <= classes.classOf[e[i + 1]]; c++) buckets[c].push(e[i + 2]);
      }
    }
    const row = new Int32Array(k).fill(-1);
    for (let c = 0; c < k; c++) {
      if (buckets[c].length === 0) continue;
      row[c] = intern(closure.of(buckets[c]));
      buckets[c].length = 0;
    }
    rows.push(row);
  }

  const table = new Int32Array(subsets.length * k);
  rows.forEach((row, d) => {
    table.set(row, d * k);
  });
  const accepting = Uint8Array.from(subsets, (subset) => (subset.includes(nfa.final) ? 1 : 0));
  return { stateCount: subsets.length, classes, table, accepting };
}

function* liveRanges(nfa: Nfa, live: Uint8Array): Generator<readonly [number, number]> {
  for (let s = 0; s < nfa.stateCount; s++) {
    if (!live[s]) continue;
    const e = nfa.edges[s];
    for (let i = 0; i < e.length; i += 3) if (live[e[i + 2]]) yield [e[i], e[i + 1]];
  }
}

/** ε-closures restricted to live states, returned as the sorted key states (byte edges, or final). */
class ClosureFinder {
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(
    private readonly nfa: Nfa,
    private readonly live: Uint8Array,
  ) {
    this.seen = new Uint32Array(nfa.stateCount);
  }

  of(seeds: readonly number[]): Int32Array {
    this.stamp++;
    const stack: number[] = [];
    const keyStates: number[] = [];
    for (const s of seeds) this.visit(s, stack);
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (this.nfa.edges[s].length > 0 || s === this.nfa.final) keyStates.push(s);
      for (const t of this.nfa.epsilon[s]) this.visit(t, stack);
    }
    return Int32Array.from(keyStates).sort();
  }

  private visit(s: number, stack: number[]): void {
    if (this.seen[s] === this.stamp || !this.live[s]) return;
    this.seen[s] = this.stamp;
    stack.push(s);
  }
}
