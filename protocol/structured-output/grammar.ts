/**
 * A regular grammar over bytes: the intermediate form between a JSON Schema (or a tool-call envelope) and the
 * byte automaton. Nodes are immutable and may be shared (a `$ref` used twice is one node); the NFA builder
 * expands each use, and `grammarSize` predicts that expansion before anything is built.
 *
 * - `bytes`: exactly one byte from the union of inclusive ranges.
 * - `literal`: exactly these bytes (one node however long, so a huge `enum` string costs its bytes, not a
 *   node per byte, until the size check refuses it).
 * - `seq`: the items one after another (`seq([])` is the empty string).
 * - `alt`: any one item (`alt([])` is the empty language: nothing matches).
 * - `repeat`: `item` between `min` and `max` times (`max` may be Infinity).
 * - `list`: between `min` and `max` items with `separator` between consecutive ones (JSON arrays, members).
 * - `members`: object members in a fixed order; optional ones may be skipped, `separator` goes only between
 *   members that are present. Linear in size however many members are optional.
 */
export type Grammar =
  | { readonly kind: 'bytes'; readonly ranges: readonly ByteRange[] }
  | { readonly kind: 'literal'; readonly bytes: Uint8Array }
  | { readonly kind: 'seq'; readonly items: readonly Grammar[] }
  | { readonly kind: 'alt'; readonly items: readonly Grammar[] }
  | { readonly kind: 'repeat'; readonly item: Grammar; readonly min: number; readonly max: number }
  | { readonly kind: 'list'; readonly item: Grammar; readonly separator: Grammar; readonly min: number; readonly max: number }
  | { readonly kind: 'members'; readonly members: readonly Member[]; readonly separator: Grammar };

/** Inclusive byte range [lo, hi], 0 ≤ lo ≤ hi ≤ 255. */
export type ByteRange = readonly [lo: number, hi: number];

export interface Member {
  readonly grammar: Grammar;
  readonly required: boolean;
}

export const EMPTY: Grammar = Object.freeze({ kind: 'seq', items: [] });
export const NOTHING: Grammar = Object.freeze({ kind: 'alt', items: [] });

export function byteRanges(...ranges: ByteRange[]): Grammar {
  for (const [lo, hi] of ranges) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo <= hi && hi <= 255)) throw new RangeError(`bad byte range [${lo}, ${hi}]`);
  }
  return { kind: 'bytes', ranges };
}

export function byteOf(char: string): Grammar {
  const code = char.charCodeAt(0);
  return byteRanges([code, code]);
}

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text`, in order. */
export function literal(text: string | Uint8Array): Grammar {
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  return bytes.length === 0 ? EMPTY : { kind: 'literal', bytes };
}

export function seq(...items: Grammar[]): Grammar {
  const flat = items.flatMap((g) => (g.kind === 'seq' ? g.items : [g]));
  if (flat.some(isNothing)) return NOTHING;
  return flat.length === 1 ? flat[0] : { kind: 'seq', items: flat };
}

export function alt(...items: Grammar[]): Grammar {
  const live = items.flatMap((g) => (g.kind === 'alt' ? g.items : [g]));
  return live.length === 1 ? live[0] : { kind: 'alt', items: live };
}

export function optional(item: Grammar): Grammar {
  return alt(EMPTY, item);
}

export function repeat(item: Grammar, min: number, max: number): Grammar {
  checkBounds(min, max);
  if (max === 0) return EMPTY;
  if (min === 1 && max === 1) return item;
  return { kind: 'repeat', item, min, max };
}

export function list(item: Grammar, separator: Grammar, min: number, max: number): Grammar {
  checkBounds(min, max);
  if (max === 0) return EMPTY;
  return { kind: 'list', item, separator, min, max };
}

export function members(memberList: readonly Member[], separator: Grammar): Grammar {
  return { kind: 'members', members: memberList, separator };
}

/** True for a node that certainly matches nothing (the builder trims the subtler cases). */
export function isNothing(g: Grammar): boolean {
  return g.kind === 'alt' && g.items.length === 0;
}

function checkBounds(min: number, max: number): void {
  if (!(Number.isInteger(min) && min >= 0 && (max === Infinity || (Number.isInteger(max) && max >= min)))) {
    throw new RangeError(`bad repetition bounds {${min}, ${max}}`);
  }
}
