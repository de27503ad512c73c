import { open } from 'node:fs/promises';
import { tensorByteLength, type SafetensorsDtype, type TensorInfo } from './safetensors.js';

/** A tensor to be written: its data comes later, from the writer's source, in this order. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

export interface SafetensorsLayout {
  /** Length prefix + JSON header, padded with spaces so the data starts 8-byte aligned. */
  readonly header: Uint8Array;
  readonly tensors: readonly TensorInfo[];
  readonly fileBytes: number;
}

/**
 * Produces a tensor's bytes in chunks; together they must be exactly the tensor's byte length. The writer may
 * hold a chunk until a later flush, so a source must not modify a chunk after yielding it.
 */
export type TensorSource = (spec: TensorSpec, index: number) => Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Lays tensors out back to back in the given order and builds the header bytes. */
export function safetensorsLayout(specs: readonly TensorSpec[], metadata: Readonly<Record<string, string>> = {}): SafetensorsLayout {
  // Null prototype: a tensor named "__proto__" must become a key, not replace the object's prototype.
  const json: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  const tensors: TensorInfo[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (Object.hasOwn(json, spec.name)) throw new Error(`duplicate tensor name ${spec.name}`);
    const end = offset + tensorByteLength(spec.dtype, spec.shape);
    json[spec.name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, end] };
    tensors.push({ name: spec.name, dtype: spec.dtype, shape: spec.shape, dataOffsets: [offset, end] });
    offset = end;
  }
  const text = JSON.stringify(json);
  const encoded = new TextEncoder().encode(text);
  // The engine maps the data section directly; alignment keeps f32 reads aligned for the first tensor.
  const padded = Math.ceil(encoded.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(encoded, 8);
  return { header, tensors, fileBytes: header.byteLength + offset };
}

/** Coalesces small chunks so the file sees few, large writes. */
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Writes a safetensors file tensor by tensor. At most two write batches are in memory at a time, so files
 * of many gigabytes are written with bounded memory. Throws if a source yields more or fewer bytes than its
 * tensor needs; the partial file is left for the caller to remove.
 */
export async function writeSafetensors(
  path: string,
  specs: readonly TensorSpec[],
  source: TensorSource,
  metadata: Readonly<Record<string, string>> = {},
): Promise<SafetensorsLayout> {
  const layout = safetensorsLayout(specs, metadata);
  const handle = await open(path, 'w');
  // One write in flight while the next batch is produced: generation and disk I/O overlap, and memory
  // stays at two batches.
  let inflight: Promise<unknown> = Promise.resolve();
  try {
    let pending: Uint8Array[] = [layout.header];
    let pendingBytes = layout.header.byteLength;
    const flush = async (): Promise<void> => {
      await inflight;
      if (pendingBytes === 0) return;
      inflight = handle.writev(pending);
      // Marked handled now; the error still surfaces at the next `await inflight`.
      inflight.catch(() => undefined);
      pending = [];
      pendingBytes = 0;
    };
    for (const [index, spec] of specs.entries()) {
      const expected = tensorByteLength(spec.dtype, spec.shape);
      let written = 0;
      for await (const chunk of source(spec, index)) {
        written += chunk.byteLength;
        if (written > expected) throw new Error(`tensor ${spec.name}: source produced more than ${expected} bytes`);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
      }
      if (written !== expected) throw new Error(`tensor ${spec.name}: source produced ${written} of ${expected} bytes`);
    }
    await flush();
    await inflight;
  } finally {
    await inflight.catch(() => undefined);
    await handle.close();
  }
  return layout;
}
