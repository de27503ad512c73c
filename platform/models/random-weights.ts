import type { SafetensorsDtype } from './safetensors.js';

/**
 * Fast deterministic random tensor data for synthetic models. Each tensor gets its own generator, seeded
 * from (model seed, tensor name), so a tensor's bytes do not depend on file order or sharding. Normal
 * samples come from a fixed 65,536-entry table of standard normal values indexed by 16 random bits: each
 * 32-bit draw yields two elements with no transcendental math on the hot path, so multi-gigabyte shapes
 * are written at disk speed.
 */

const TABLE_SIZE = 65_536;

/** mulberry32: tiny 32-bit generator, plenty for weights that only need to look random. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a over the seed and the name: a stable 32-bit seed per tensor. */
export function tensorSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  hash = Math.imul(hash, 0x01000193) >>> 0;
  for (const byte of new TextEncoder().encode(name)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash >>> 0;
}

let standardNormalTable: Float64Array | undefined;

/** Box–Muller samples from a fixed generator; V8's Math functions are deterministic across platforms. */
function standardNormals(): Float64Array {
  if (standardNormalTable) return standardNormalTable;
  const next = mulberry32(0x7469_6465); // "tide"
  const table = new Float64Array(TABLE_SIZE);
  for (let i = 0; i < TABLE_SIZE; i += 2) {
    const u1 = (next() + 1) / 4_294_967_297;
    const u2 = next() / 4_294_967_296;
    const radius = Math.sqrt(-2 * Math.log(u1));
    table[i] = radius * Math.cos(2 * Math.PI * u2);
    table[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  standardNormalTable = table;
  return table;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → bfloat16 bits, round to nearest even (NaN is not produced by the tables). */
export function toBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float → IEEE half bits, round to nearest even, with subnormals and overflow to infinity. */
export function toF16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - exponent;
    const half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  const half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

export type ValueTable = Float32Array | Uint16Array;

/** The table of `mean + std * N(0,1)` values already encoded in the storage dtype. */
export function valueTable(dtype: SafetensorsDtype, mean: number, std: number): ValueTable {
  const normals = standardNormals();
  if (dtype === 'F32') return Float32Array.from(normals, (z) => mean + std * z);
  const encode = dtype === 'BF16' ? toBf16Bits : toF16Bits;
  return Uint16Array.from(normals, (z) => encode(mean + std * z));
}

/**
 * Draws table entries two at a time; the odd half of a draw carries over, so chunking never changes data.
 * The generator is inlined (same sequence as `mulberry32`) and the loop is written once per array type so
 * each stays monomorphic: this loop writes every byte of every synthetic model.
 */
export class TableSampler {
  private state: number;
  private carry = -1;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Fills `out[start, end)` from `table` (both of the same array type). */
  fill(out: ValueTable, table: ValueTable, start = 0, end = out.length): void {
    if (start >= end) return;
    if (this.carry >= 0) {
      out[start++] = table[this.carry];
      this.carry = -1;
    }
    const pairsEnd = start + ((end - start) & ~1);
    this.state =
      out instanceof Float32Array
        ? fillPairsF32(out, table as Float32Array, start, pairsEnd, this.state)
        : fillPairsU16(out, table as Uint16Array, start, pairsEnd, this.state);
    if (pairsEnd < end) {
      const r = this.draw();
      out[pairsEnd] = table[r & 0xffff];
      this.carry = r >>> 16;
    }
  }

  private draw(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), this.state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

function fillPairsU16(out: Uint16Array, table: Uint16Array, start: number, end: number, seedState: number): number {
  let state = seedState;
  for (let i = start; i < end; i += 2) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t ^= t >>> 14;
    out[i] = table[t & 0xffff];
    out[i + 1] = table[t >>> 16];
  }
  return state >>> 0;
}

function fillPairsF32(out: Float32Array, table: Float32Array, start: number, end: number, seedState: number): number {
  let state = seedState;
  for (let i = start; i < end; i += 2) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t ^= t >>> 14;
    out[i] = table[t & 0xffff];
    out[i + 1] = table[t >>> 16];
  }
  return state >>> 0;
}
