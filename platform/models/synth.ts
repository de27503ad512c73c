import { endianness } from 'node:os';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedTensors, parseModelConfig, type ModelConfig } from './model-config.js';
import { DTYPE_BYTES, tensorByteLength, type SafetensorsDtype } from './safetensors.js';
import { writeSafetensors, type TensorSpec } from './safetensors-writer.js';
import { modelShape, shapeConfigJson, type ModelShape } from './shapes.js';
import { buildTinyTokenizer, type TinyTokenizer } from './tiny-tokenizer.js';
import { TableSampler, tensorSeed, valueTable, type ValueTable } from './random-weights.js';
import { INDEX_FILE } from './validate-model.js';

/**
 * `synthesizeModel` writes a Hugging Face model directory with random weights of a real shape:
 * config.json, model.safetensors (or `model-0000N-of-0000M.safetensors` shards plus
 * model.safetensors.index.json past `shardBytes`), and for `tiny` a tokenizer.json. Same (shape, seed,
 * dtype) → byte-identical files. Data is streamed, so memory stays small whatever the model size.
 */

export interface SynthOptions {
  /** A name from MODEL_SHAPES or a shape object. */
  readonly shape: string | ModelShape;
  readonly seed: number;
  readonly outDir: string;
  /** Defaults to the shape's dtype (BF16, F32 for tiny). */
  readonly dtype?: SafetensorsDtype;
  /** Largest shard size in bytes (default 4 GiB); a model at or below it is one file. */
  readonly shardBytes?: number;
}

export interface SynthResult {
  readonly config: ModelConfig;
  readonly files: readonly string[];
  /** Total bytes of the safetensors files. */
  readonly bytes: number;
}

export const DEFAULT_SHARD_BYTES = 4 * 1024 ** 3;

/** How each kind of tensor is initialised: mean and std of its normal distribution. */
interface Init {
  readonly mean: number;
  readonly std: number;
}

// Output projections and lm_head are scaled up so layers outweigh the embedding in the residual stream and
// greedy decoding wanders instead of echoing (the same recipe as test/fixtures/generate_reference.py).
const GAINS: Readonly<Record<string, number>> = { o_proj: 3, down_proj: 3, lm_head: 3 };
/** lm_head rows of tokens that are not whole words get this fraction of the scale (tiny only). */
const NON_WORD_ROW_SCALE = 0.25;

function initFor(name: string, shape: readonly number[]): Init {
  if (name.endsWith('norm.weight')) return { mean: 1, std: 0.05 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.1 };
  if (name === 'model.embed_tokens.weight') return { mean: 0, std: 0.25 };
  const kind = name.split('.').at(-2) ?? '';
  return { mean: 0, std: (GAINS[kind] ?? 1) / Math.sqrt(shape[1]) };
}

const CHUNK_ELEMENTS = 1 << 20;

/**
 * Yields a tensor's bytes in ~4 MB chunks. `rowScale` (per output row) lets tiny favour word tokens; rows
 * sharing a scale share a table, so only as many tables exist as distinct scales.
 */
function* tensorChunks(spec: TensorSpec, seed: number, rowScale?: (row: number) => number): Generator<Uint8Array> {
  const init = initFor(spec.name, spec.shape);
  const sampler = new TableSampler(tensorSeed(seed, spec.name));
  const total = spec.shape.reduce((a, b) => a * b, 1);
  const columns = spec.shape.length > 1 ? spec.shape[1] : total;
  const tables = new Map<number, ValueTable>();
  const tableFor = (scale: number): ValueTable => {
    let table = tables.get(scale);
    if (!table) tables.set(scale, (table = valueTable(spec.dtype, init.mean, init.std * scale)));
    return table;
  };
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / Math.max(columns, 1)));
  for (let first = 0; first * columns < total; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, Math.ceil((total - first * columns) / columns));
    const count = Math.min(rows * columns, total - first * columns);
    const out = spec.dtype === 'F32' ? new Float32Array(count) : new Uint16Array(count);
    if (!rowScale) sampler.fill(out, tableFor(1));
    else for (let r = 0; r < rows; r++) sampler.fill(out, tableFor(rowScale(first + r)), r * columns, (r + 1) * columns);
    yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

/** Splits tensors, in order, into shards of at most `shardBytes` (a lone larger tensor gets its own). */
export function planShards(specs: readonly TensorSpec[], shardBytes: number): TensorSpec[][] {
  const shards: TensorSpec[][] = [[]];
  let size = 0;
  for (const spec of specs) {
    const bytes = tensorByteLength(spec.dtype, spec.shape);
    if (size > 0 && size + bytes > shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(spec);
    size += bytes;
  }
  return shards;
}

function shardName(index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return count === 1 ? 'model.safetensors' : `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

function wordRowScale(tokenizer: TinyTokenizer | undefined): ((row: number) => number) | undefined {
  if (!tokenizer) return undefined;
  const words = new Set(tokenizer.wordTokenIds);
  return (row) => (words.has(row) ? 1 : NON_WORD_ROW_SCALE);
}

async function writeShards(
  outDir: string,
  specs: readonly TensorSpec[],
  options: Required<Pick<SynthOptions, 'seed' | 'shardBytes'>>,
  tokenizer?: TinyTokenizer,
): Promise<{ files: string[]; bytes: number }> {
  const shards = planShards(specs, options.shardBytes);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  let dataBytes = 0;
  const rowScale = wordRowScale(tokenizer);
  for (const [index, shard] of shards.entries()) {
    const name = shardName(index, shards.length);
    const layout = await writeSafetensors(
      join(outDir, name),
      shard,
      (spec) => tensorChunks(spec, options.seed, spec.name === 'lm_head.weight' ? rowScale : undefined),
      { format: 'pt' },
    );
    files.push(name);
    bytes += layout.fileBytes;
    for (const spec of shard) {
      weightMap[spec.name] = name;
      dataBytes += tensorByteLength(spec.dtype, spec.shape);
    }
  }
  if (shards.length > 1) {
    const index = { metadata: { total_size: dataBytes }, weight_map: weightMap };
    await writeFile(join(outDir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
    files.push(INDEX_FILE);
  }
  return { files, bytes };
}

/** A previous synth into the same directory may have used another shard count; its files must not linger. */
async function removeOldWeights(outDir: string): Promise<void> {
  const ours = /^model(-\d{5}-of-\d{5})?\.safetensors$/;
  for (const name of await readdir(outDir)) {
    if (ours.test(name) || name === INDEX_FILE) await rm(join(outDir, name), { force: true });
  }
}

export async function synthesizeModel(options: SynthOptions): Promise<SynthResult> {
  if (endianness() !== 'LE') throw new Error('synth writes little-endian safetensors and needs a little-endian host');
  if (!Number.isSafeInteger(options.seed)) throw new Error(`seed must be an integer, got ${options.seed}`);
  const shape = typeof options.shape === 'string' ? modelShape(options.shape) : options.shape;
  const dtype = options.dtype ?? shape.defaultDtype;
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) throw new Error(`unsupported dtype ${dtype} (supported: F32, F16, BF16)`);
  const tokenizer = shape.withTokenizer ? buildTinyTokenizer() : undefined;
  const vocabSize = tokenizer ? tokenizer.vocabSize : shape.vocabSize;
  const configJson = shapeConfigJson(shape, vocabSize, dtype, tokenizer?.eosTokenId);
  const config = parseModelConfig(configJson);
  const specs = [...expectedTensors(config)].map(([name, dims]) => ({ name, dtype, shape: dims }));

  await mkdir(options.outDir, { recursive: true });
  await removeOldWeights(options.outDir);
  await writeFile(join(options.outDir, 'config.json'), `${JSON.stringify(configJson, null, 2)}\n`);
  const files = ['config.json'];
  if (tokenizer) {
    await writeFile(join(options.outDir, 'tokenizer.json'), JSON.stringify(tokenizer.json));
    files.push('tokenizer.json');
  }
  const written = await writeShards(options.outDir, specs, { seed: options.seed, shardBytes: options.shardBytes ?? DEFAULT_SHARD_BYTES }, tokenizer);
  return { config, files: [...files, ...written.files], bytes: written.bytes };
}
