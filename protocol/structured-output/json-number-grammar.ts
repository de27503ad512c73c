import { alt, byteOf, byteRanges, literal, optional, repeat, seq, type Grammar } from './grammar.js';

/**
 * JSON numbers in canonical spelling (no leading zeros, no `+`, no `-0` from integers). The integer part has
 * at most MAX_INTEGER_DIGITS digits and an exponent at most two, so every accepted text parses to a finite
 * double; integers beyond 20 digits cannot be represented exactly by JSON.parse anyway.
 */
export const MAX_INTEGER_DIGITS = 20;
const LARGEST = 10n ** BigInt(MAX_INTEGER_DIGITS) - 1n;

const DIGIT = byteRanges([0x30, 0x39]);
const digitRange = (lo: string, hi: string): Grammar => byteRanges([lo.charCodeAt(0), hi.charCodeAt(0)]);

/** Integers in [min, max] (either side open = the digit cap), by decimal prefix ranges. */
export function jsonInteger(min?: bigint, max?: bigint): Grammar {
  return min === undefined && max === undefined ? ANY_INTEGER : integerRange(min, max);
}

function integerRange(min?: bigint, max?: bigint): Grammar {
  const lo = min === undefined || min < -LARGEST ? -LARGEST : min;
  const hi = max === undefined || max > LARGEST ? LARGEST : max;
  const parts: Grammar[] = [];
  if (hi >= 0n && lo <= hi) parts.push(naturalRange(lo > 0n ? lo : 0n, hi));
  const negativeHi = hi < -1n ? hi : -1n;
  if (lo <= negativeHi) parts.push(seq(byteOf('-'), naturalRange(-negativeHi, -lo)));
  return alt(...parts);
}

/** Any JSON number: -?int(.frac)?([eE][+-]?exp)?, fraction unbounded, exponent 1-2 digits. */
export function jsonNumber(): Grammar {
  return ANY_NUMBER;
}

function anyNumber(): Grammar {
  const fraction = seq(byteOf('.'), repeat(DIGIT, 1, Infinity));
  const exponent = seq(byteRanges([0x45, 0x45], [0x65, 0x65]), optional(byteRanges([0x2b, 0x2b], [0x2d, 0x2d])), repeat(DIGIT, 1, 2));
  return seq(optional(byteOf('-')), naturalRange(0n, LARGEST), optional(fraction), optional(exponent));
}

/** Decimal spellings of lo..hi (0 ≤ lo ≤ hi), split by digit count. */
function naturalRange(lo: bigint, hi: bigint): Grammar {
  const parts: Grammar[] = [];
  for (let digits = String(lo).length; digits <= String(hi).length; digits++) {
    const floor = digits === 1 ? 0n : 10n ** BigInt(digits - 1);
    const ceiling = 10n ** BigInt(digits) - 1n;
    const a = lo > floor ? lo : floor;
    const b = hi < ceiling ? hi : ceiling;
    if (a <= b) parts.push(sameLength(String(a), String(b)));
  }
  return alt(...parts);
}

const ANY_INTEGER = integerRange();
const ANY_NUMBER = anyNumber();

/** Strings of digits of one length between lo and hi, lexicographically (= numerically). */
function sameLength(lo: string, hi: string): Grammar {
  if (lo.length === 0) return seq();
  const rest = lo.length - 1;
  if (/^0*$/.test(lo.slice(1)) && /^9*$/.test(hi.slice(1))) return seq(digitRange(lo[0], hi[0]), repeat(DIGIT, rest, rest));
  if (lo[0] === hi[0]) return seq(literal(lo[0]), sameLength(lo.slice(1), hi.slice(1)));
  const parts = [seq(literal(lo[0]), sameLength(lo.slice(1), '9'.repeat(rest)))];
  const next = String.fromCharCode(lo.charCodeAt(0) + 1);
  const previous = String.fromCharCode(hi.charCodeAt(0) - 1);
  if (next <= previous) parts.push(seq(digitRange(next, previous), repeat(DIGIT, rest, rest)));
  parts.push(seq(literal(hi[0]), sameLength('0'.repeat(rest), hi.slice(1))));
  return alt(...parts);
}
