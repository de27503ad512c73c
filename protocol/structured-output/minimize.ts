import type { ClassDfa } from './determinize.js';

/**
 * Hopcroft's minimisation, O(n·k·log n) for n states and k byte classes. The DFA is completed with a sink
 * (state n) for the missing transitions; since every input state can reach acceptance, only the sink is
 * dead, and its block is dropped from the result. The start state keeps number 0; the numbering of the rest
 * is not canonical yet (see canonicalize).
 */
export function minimize(dfa: ClassDfa): ClassDfa {
  const n = dfa.stateCount;
  const k = dfa.classes.count;
  if (n === 0) return dfa;
  const total = n + 1;
  const sink = n;
  const next = (s: number, c: number): number => (s === sink ? sink : dfa.table[s * k + c] < 0 ? sink : dfa.table[s * k + c]);
  const inverse = inverseTransitions(total, k, next);
  const partition = new Partition(total, (s) => (s < n && dfa.accepting[s] ? 0 : 1));
  const pending: number[] = [];
  const inPending: number[] = [];
  for (let b = 0; b < partition.blockCount; b++) {
    pending.push(b);
    inPending[b] = 1;
  }
  const preimageSeen = new Uint32Array(total);
  const preimage = new Int32Array(total);
  let stamp = 0;
  while (pending.length > 0) {
    const splitter = pending.pop()!;
    inPending[splitter] = 0;
    const members = partition.members(splitter);
    for (let c = 0; c < k; c++) {
      stamp++;
      let count = 0;
      for (let m = 0; m < members.length; m++) {
        const t = members[m];
        for (let i = inverse.start[c * total + t]; i < inverse.start[c * total + t + 1]; i++) {
          const s = inverse.sources[i];
          if (preimageSeen[s] !== stamp) {
            preimageSeen[s] = stamp;
            preimage[count++] = s;
          }
        }
      }
      if (count === 0) continue;
      for (const [kept, split] of partition.split(preimage, count)) {
        if (inPending[kept]) {
          pending.push(split);
          inPending[split] = 1;
        } else {
          const smaller = partition.size(split) <= partition.size(kept) ? split : kept;
          pending.push(smaller);
          inPending[smaller] = 1;
        }
      }
    }
  }
  return quotient(dfa, partition, sink);
}

/** CSR of reverse edges per class: sources of (c, t) are sources[start[c·total + t] .. start[c·total + t + 1]). */
function inverseTransitions(total: number, k: number, next: (s: number, c: number) => number): { start: Int32Array; sources: Int32Array } {
  const start = new Int32Array(k * total + 1);
  for (let s = 0; s < total; s++) for (let c = 0; c < k; c++) start[c * total + next(s, c) + 1]++;
  for (let i = 1; i < start.length; i++) start[i] += start[i - 1];
  const fill = start.slice(0, k * total);
  const sources = new Int32Array(total * k);
  for (let s = 0; s < total; s++) for (let c = 0; c < k; c++) sources[fill[c * total + next(s, c)]++] = s;
  return { start, sources };
}

function quotient(dfa: ClassDfa, partition: Partition, sink: number): ClassDfa {
  const k = dfa.classes.count;
  const sinkBlock = partition.blockOf(sink);
  // Block → new id, start's block first.
  const id = new Int32Array(partition.blockCount).fill(-1);
  let count = 0;
  id[partition.blockOf(0)] = count++;
  for (let b = 0; b < partition.blockCount; b++) if (b !== sinkBlock && id[b] < 0) id[b] = count++;
  const table = new Int32Array(count * k).fill(-1);
  const accepting = new Uint8Array(count);
  for (let b = 0; b < partition.blockCount; b++) {
    if (b === sinkBlock) continue;
    const s = partition.members(b)[0];
    accepting[id[b]] = dfa.accepting[s];
    for (let c = 0; c < k; c++) {
      const t = dfa.table[s * k + c];
      if (t >= 0 && partition.blockOf(t) !== sinkBlock) table[id[b] * k + c] = id[partition.blockOf(t)];
    }
  }
  return { stateCount: count, classes: dfa.classes, table, accepting };
}

/** Refinable partition of 0..n-1: each block is a contiguous run of `elements`. */
class Partition {
  private readonly elements: Int32Array;
  private readonly location: Int32Array;
  private readonly block: Int32Array;
  private readonly first: number[] = [];
  private readonly end: number[] = [];
  private readonly marked: number[] = [];

  constructor(n: number, initial: (s: number) => number) {
    const order = Array.from({ length: n }, (_, s) => s).sort((a, b) => initial(a) - initial(b));
    this.elements = Int32Array.from(order);
    this.location = new Int32Array(n);
    this.block = new Int32Array(n);
    order.forEach((s, i) => {
      this.location[s] = i;
      if (i === 0 || initial(s) !== initial(order[i - 1])) {
        this.first.push(i);
        if (i > 0) this.end.push(i);
        this.marked.push(0);
      }
      this.block[s] = this.first.length - 1;
    });
    this.end.push(n);
  }

  get blockCount(): number {
    return this.first.length;
  }

  blockOf(s: number): number {
    return this.block[s];
  }

  size(b: number): number {
    return this.end[b] - this.first[b];
  }

  /** A copy: blocks change as they split. */
  members(b: number): Int32Array {
    return this.elements.slice(this.first[b], this.end[b]);
  }

  /** Splits every block that states[0..count) cuts in two; returns [kept block, new block] pairs (new = the marked part). */
  split(states: Int32Array, count: number): [number, number][] {
    const touched: number[] = [];
    for (let n = 0; n < count; n++) {
      const s = states[n];
      const b = this.block[s];
      const target = this.first[b] + this.marked[b];
      const other = this.elements[target];
      this.elements[this.location[s]] = other;
      this.location[other] = this.location[s];
      this.elements[target] = s;
      this.location[s] = target;
      if (this.marked[b]++ === 0) touched.push(b);
    }
    const result: [number, number][] = [];
    for (const b of touched) {
      const cut = this.first[b] + this.marked[b];
      this.marked[b] = 0;
      if (cut === this.end[b]) continue;
      const nb = this.first.length;
      this.first.push(this.first[b]);
      this.end.push(cut);
      this.marked.push(0);
      this.first[b] = cut;
      for (let i = this.first[nb]; i < cut; i++) this.block[this.elements[i]] = nb;
      result.push([b, nb]);
    }
    return result;
  }
}
