import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensorsHeader, readSafetensorsHeader, SafetensorsError } from '../../../platform/models/safetensors.js';
import { safetensorsLayout, writeSafetensors } from '../../../platform/models/safetensors-writer.js';

/** Builds a file image from a header object and a data length. */
function image(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  bytes.set(json, 8);
  return bytes;
}

function parse(header: unknown, dataBytes: number): ReturnType<typeof parseSafetensorsHeader> {
  const bytes = image(header, dataBytes);
  return parseSafetensorsHeader(bytes, bytes.byteLength, 'w.safetensors');
}

const good = {
  __metadata__: { format: 'pt' },
  a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
  b: { dtype: 'BF16', shape: [4], data_offsets: [24, 32] },
};

describe('safetensors header parsing', () => {
  it('parses tensors in data order with metadata', () => {
    const header = parse({ b: good.b, a: good.a, __metadata__: good.__metadata__ }, 32);
    expect(header.tensors.map((t) => t.name)).toEqual(['a', 'b']);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.dataBytes).toBe(32);
  });

  it.each([
    ['an unsupported dtype', { x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8, /tensor x: unsupported dtype "I64"/],
    ['a negative dimension', { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /tensor x: shape \[-1\]/],
    [
      'offsets that disagree with the shape',
      { x: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } },
      8,
      /tensor x: data_offsets span 8 bytes but F16 \[3\] needs 6/,
    ],
    [
      'overlapping tensors',
      { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      12,
      /tensor y: data \[4, 12\) overlaps/,
    ],
    [
      'a gap between tensors',
      { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, y: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      12,
      /tensor y: gap of 4 bytes/,
    ],
    ['trailing bytes', { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8, /4 trailing bytes/],
    ['a tensor past the end of the file', good, 30, /truncated: tensor b ends at byte \d+ but the file has \d+ bytes/],
    ['a non-object header', [1, 2], 0, /header JSON is not an object/],
  ])('rejects %s, naming the tensor', (_what, header, dataBytes, message) => {
    expect(() => parse(header, dataBytes)).toThrow(message);
  });

  it('rejects a header length that runs past the file', () => {
    const bytes = image(good, 32).subarray(0, 20);
    expect(() => parseSafetensorsHeader(bytes, 20, 'w.safetensors')).toThrow(/w\.safetensors: truncated: header claims \d+ bytes but the file has 20 bytes/);
  });

  it('rejects a file shorter than the length prefix', () => {
    expect(() => parseSafetensorsHeader(new Uint8Array(3), 3, 'w')).toThrow(SafetensorsError);
  });

  it('rejects malformed JSON', () => {
    const bytes = image(good, 32);
    bytes[8] = 0x7b + 1;
    expect(() => parseSafetensorsHeader(bytes, bytes.byteLength, 'w')).toThrow(/not valid UTF-8 JSON/);
  });
});

describe('safetensors streaming writer', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes chunked tensors that read back with an 8-byte-aligned data section', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tidepool-st-'));
    dirs.push(dir);
    const path = join(dir, 'm.safetensors');
    const specs = [
      { name: 'w', dtype: 'F32' as const, shape: [3, 5] },
      { name: 'n', dtype: 'F16' as const, shape: [7] },
    ];
    await writeSafetensors(path, specs, function* (spec) {
      const bytes = spec.dtype === 'F32' ? 60 : 14;
      for (let i = 0; i < bytes; i += 4) yield new Uint8Array(Math.min(4, bytes - i)).fill(i);
    });
    const header = await readSafetensorsHeader(path);
    expect(header.dataStart % 8).toBe(0);
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['w', 'F32', [3, 5]],
      ['n', 'F16', [7]],
    ]);
    expect((await readFile(path)).byteLength).toBe(header.fileBytes);
  });

  it('refuses a source that yields the wrong number of bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tidepool-st-'));
    dirs.push(dir);
    const specs = [{ name: 'w', dtype: 'F32' as const, shape: [2] }];
    await expect(writeSafetensors(join(dir, 'x.safetensors'), specs, () => [new Uint8Array(4)])).rejects.toThrow(/tensor w: source produced 4 of 8 bytes/);
  });

  it('refuses duplicate tensor names', () => {
    const spec = { name: 'w', dtype: 'F32' as const, shape: [1] };
    expect(() => safetensorsLayout([spec, spec])).toThrow(/duplicate tensor name w/);
  });
});
