/**
 * A partition of the 256 byte values into contiguous classes such that every edge of an automaton covers whole
 * classes. Automata are then built over classes (typically a few dozen) instead of bytes.
 */
export interface ByteClasses {
  readonly count: number;
  /** (count + 1) ascending: class k is the bytes [bounds[k], bounds[k + 1]). bounds[0] = 0, bounds[count] = 256. */
  readonly bounds: Uint16Array;
  /** (256) the class of each byte. */
  readonly classOf: Uint16Array;
}

/** The coarsest classes that split at every range boundary in `ranges` (flat pairs lo, hi inclusive). */
export function byteClassesOf(ranges: Iterable<readonly [number, number]>): ByteClasses {
  const cut = new Uint8Array(257);
  cut[0] = 1;
  cut[256] = 1;
  for (const [lo, hi] of ranges) {
    cut[lo] = 1;
    cut[hi + 1] = 1;
  }
  const bounds: number[] = [];
  for (let b = 0; b <= 256; b++) if (cut[b]) bounds.push(b);
  const classOf = new Uint16Array(256);
  for (let k = 0; k + 1 < bounds.length; k++) classOf.fill(k, bounds[k], bounds[k + 1]);
  return { count: bounds.length - 1, bounds: Uint16Array.from(bounds), classOf };
}
