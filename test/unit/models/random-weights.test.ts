import { describe, expect, it } from 'vitest';
import { mulberry32, TableSampler, tensorSeed, toBf16Bits, toF16Bits, valueTable } from '../../../platform/models/random-weights.js';

describe('random weights', () => {
  it('produces the same values however a tensor is chunked', () => {
    const table = Uint16Array.from({ length: 65_536 }, (_, i) => i);
    const whole = new Uint16Array(101);
    new TableSampler(9).fill(whole, table);
    const pieces = new Uint16Array(101);
    const sampler = new TableSampler(9);
    for (const [start, end] of [
      [0, 3],
      [3, 4],
      [4, 50],
      [50, 101],
    ])
      sampler.fill(pieces, table, start, end);
    expect([...pieces]).toEqual([...whole]);
    const next = mulberry32(9);
    const r = next();
    expect([whole[0], whole[1]]).toEqual([r & 0xffff, r >>> 16]);
  });

  it('seeds each tensor from the model seed and the tensor name', () => {
    expect(tensorSeed(1, 'a')).toBe(tensorSeed(1, 'a'));
    expect(tensorSeed(1, 'a')).not.toBe(tensorSeed(2, 'a'));
    expect(tensorSeed(1, 'a')).not.toBe(tensorSeed(1, 'b'));
  });

  it('encodes half-precision bits with round-to-nearest-even', () => {
    expect(toBf16Bits(1)).toBe(0x3f80);
    expect(toBf16Bits(-2)).toBe(0xc000);
    expect(toF16Bits(1)).toBe(0x3c00);
    expect(toF16Bits(65504)).toBe(0x7bff);
    expect(toF16Bits(1e6)).toBe(0x7c00);
    expect(toF16Bits(2 ** -24)).toBe(0x0001);
    expect(toF16Bits(-0.5)).toBe(0xb800);
  });

  it('builds tables with the requested mean and spread', () => {
    const table = valueTable('F32', 1, 0.1) as Float32Array;
    const mean = table.reduce((a, b) => a + b, 0) / table.length;
    const std = Math.sqrt(table.reduce((a, b) => a + (b - mean) ** 2, 0) / table.length);
    expect(mean).toBeCloseTo(1, 2);
    expect(std).toBeCloseTo(0.1, 2);
  });
});
