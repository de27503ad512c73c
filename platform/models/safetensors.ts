import { open } from 'node:fs/promises';
import { jsonPreview } from './json-preview.js';
import { MODEL_LIMITS } from './model-limits.js';

/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`), then the data.
 * Offsets are relative to the end of the header. The engine maps these files directly, so the parser is
 * strict: every byte of the data section belongs to exactly one tensor, and the file ends where the last
 * tensor ends.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({ F32: 4, F16: 2, BF16: 2 });

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to `dataStart`. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** Absolute file offset of the first data byte (8 + header length). */
  readonly dataStart: number;
  readonly dataBytes: number;
  readonly fileBytes: number;
  /** Tensors in data order. */
  readonly tensors: readonly TensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
}

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Larger headers are refused before allocation; real checkpoints stay far below this (cuda/model-limits.json). */
export const MAX_HEADER_BYTES = MODEL_LIMITS.safetensors.headerBytes;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

export function tensorByteLength(dtype: SafetensorsDtype, shape: readonly number[]): number {
  return elementCount(shape) * DTYPE_BYTES[dtype];
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Reads the 8-byte header length, refusing files too short to hold it or a header past the file's end. */
export function readHeaderLength(prefix: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(file, `truncated: ${fileBytes} bytes is too short for the 8-byte header length`);
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + Number(length) > fileBytes) {
    throw new SafetensorsError(file, `truncated: header claims ${length} bytes but the file has ${fileBytes} bytes`);
  }
  return Number(length);
}

function parseTensorEntry(file: string, name: string, raw: unknown): TensorInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(file, `tensor ${name}: entry is not an object`, name);
  }
  const entry = raw as Record<string, unknown>;
  if (!isDtype(entry.dtype)) {
    throw new SafetensorsError(file, `tensor ${name}: unsupported dtype ${jsonPreview(entry.dtype)} (supported: F32, F16, BF16)`, name);
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    throw new SafetensorsError(file, `tensor ${name}: shape ${jsonPreview(shape)} is not a list of non-negative integers`, name);
  }
  checkShapeLimits(file, name, shape);
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt) || offsets[0] > offsets[1]) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets ${jsonPreview(offsets)} is not [begin, end] with begin <= end`, name);
  }
  const expected = tensorByteLength(entry.dtype, shape);
  const actual = offsets[1] - offsets[0];
  if (actual !== expected) {
    throw new SafetensorsError(file, `tensor ${name}: data_offsets span ${actual} bytes but ${entry.dtype} ${jsonPreview(shape)} needs ${expected}`, name);
  }
  return { name, dtype: entry.dtype, shape: Object.freeze([...shape]), dataOffsets: [offsets[0], offsets[1]] };
}

/** Rank and element count within the shared limits, checked dimension by dimension so nothing overflows. */
function checkShapeLimits(file: string, name: string, shape: readonly number[]): void {
  const { rank, tensorElements } = MODEL_LIMITS.safetensors;
  if (shape.length > rank) throw new SafetensorsError(file, `tensor ${name}: rank ${shape.length} exceeds the limit of ${rank}`, name);
  let elements = 1;
  for (const dim of shape) {
    if (dim !== 0 && elements > tensorElements / dim) {
      throw new SafetensorsError(file, `tensor ${name}: shape ${jsonPreview(shape)} exceeds the limit of ${tensorElements} elements`, name);
    }
    elements *= dim;
  }
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(file, '__metadata__ must be an object of string values');
  }
  return { ...(raw as Record<string, string>) };
}

/** Checks that tensors tile [0, dataBytes) exactly: no gap, no overlap, nothing past the end. */
function checkLayout(file: string, tensors: readonly TensorInfo[], dataBytes: number, dataStart: number): void {
  let cursor = 0;
  for (const tensor of tensors) {
    const [begin, end] = tensor.dataOffsets;
    if (begin < cursor) {
      throw new SafetensorsError(file, `tensor ${tensor.name}: data [${begin}, ${end}) overlaps the previous tensor ending at ${cursor}`, tensor.name);
    }
    if (begin > cursor) {
      throw new SafetensorsError(file, `tensor ${tensor.name}: gap of ${begin - cursor} bytes before its data at ${begin}`, tensor.name);
    }
    if (end > dataBytes) {
      throw new SafetensorsError(
        file,
        `truncated: tensor ${tensor.name} ends at byte ${dataStart + end} but the file has ${dataStart + dataBytes} bytes`,
        tensor.name,
      );
    }
    cursor = end;
  }
  if (cursor < dataBytes) {
    throw new SafetensorsError(file, `${dataBytes - cursor} trailing bytes after the last tensor`);
  }
}

/**
 * Parses and validates a header. `bytes` holds at least the first `8 + N` bytes of the file; `fileBytes` is
 * the whole file's size, so a truncated file is caught from its header alone.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileBytes: number, file = '<buffer>'): SafetensorsHeader {
  const headerLength = readHeaderLength(bytes, fileBytes, file);
  if (bytes.byteLength < 8 + headerLength) {
    throw new SafetensorsError(file, `need ${8 + headerLength} header bytes, got ${bytes.byteLength}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new SafetensorsError(file, `header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(file, 'header JSON is not an object');
  }
  const entries = Object.entries(json);
  const tensorCount = entries.length - (Object.hasOwn(json, '__metadata__') ? 1 : 0);
  if (tensorCount > MODEL_LIMITS.safetensors.tensors) {
    throw new SafetensorsError(file, `${tensorCount} tensors exceed the limit of ${MODEL_LIMITS.safetensors.tensors}`);
  }
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of entries) {
    if (name === '__metadata__') metadata = parseMetadata(file, raw);
    else tensors.push(parseTensorEntry(file, name, raw));
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const dataStart = 8 + headerLength;
  const dataBytes = fileBytes - dataStart;
  checkLayout(file, tensors, dataBytes, dataStart);
  return Object.freeze({ dataStart, dataBytes, fileBytes, tensors: Object.freeze(tensors), metadata: Object.freeze(metadata) });
}

/** Reads only the header of a file on disk (two small reads, whatever the file's size). */
export async function readSafetensorsHeader(path: string, displayName = path): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const prefix = new Uint8Array(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = readHeaderLength(prefix, size, displayName);
    const bytes = new Uint8Array(8 + headerLength);
    bytes.set(prefix);
    await handle.read(bytes, 8, headerLength, 8);
    return parseSafetensorsHeader(bytes, size, displayName);
  } finally {
    await handle.close();
  }
}
