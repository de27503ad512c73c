import type { ByteDfa } from '../../../protocol/structured-output/byte-dfa.js';

/** A small seeded generator (mulberry32), so a failing walk can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shortest number of bytes from each state to an accepting state (Infinity where none: a dead end). */
export function distanceToAccept(dfa: ByteDfa): number[] {
  const distance = new Array<number>(dfa.stateCount).fill(Infinity);
  const reverse: number[][] = Array.from({ length: dfa.stateCount }, () => []);
  dfa.transitions.forEach((ranges, s) => {
    for (const [, , next] of ranges) reverse[next].push(s);
  });
  const queue = [...dfa.accepting];
  for (const s of queue) distance[s] = 0;
  for (let i = 0; i < queue.length; i++) {
    for (const p of reverse[queue[i]]) {
      if (distance[p] === Infinity) {
        distance[p] = distance[queue[i]] + 1;
        queue.push(p);
      }
    }
  }
  return distance;
}

/**
 * A random byte string the automaton accepts: free choices for `budget` bytes, then only transitions that
 * bring an accepting state closer, so every walk ends. Stops at an accepting state with probability `stop`.
 */
export function randomWalk(dfa: ByteDfa, random: () => number, options: { budget?: number; stop?: number; distance?: number[] } = {}): Uint8Array {
  const distance = options.distance ?? distanceToAccept(dfa);
  const accepting = new Set(dfa.accepting);
  const budget = options.budget ?? 200;
  const stop = options.stop ?? 0.2;
  const bytes: number[] = [];
  let state = 0;
  for (;;) {
    const ranges = dfa.transitions[state];
    if (accepting.has(state) && (ranges.length === 0 || random() < stop || (bytes.length >= budget && distance[state] === 0))) break;
    const usable = bytes.length < budget ? ranges : ranges.filter(([, , next]) => distance[next] < distance[state]);
    const [lo, hi, next] = usable[Math.floor(random() * usable.length)];
    bytes.push(lo + Math.floor(random() * (hi - lo + 1)));
    state = next;
  }
  return Uint8Array.from(bytes);
}
