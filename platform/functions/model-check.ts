import { capProblems, MODEL_LIMITS } from '../models/model-limits.js';
import { parseSafetensorsHeader, readHeaderLength, SafetensorsError, type SafetensorsHeader } from '../models/safetensors.js';
import { byteLevelVocabProblems, tokenizerJsonProblems } from '../models/tokenizer-check.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { ArtifactFileEntry } from './artifact.js';

/** Reads blobs by digest; `read` with a range returns bytes [start, end). */
export interface BlobReader {
  /** Stored size, or undefined when the blob is absent. */
  size(digest: string): Promise<number | undefined>;
  read(digest: string, range?: { readonly start: number; readonly end: number }): Promise<Buffer>;
}

/** Cross-checks config.json against the tensors; returns one line per problem (empty when consistent). */
export type ModelValidator = (config: unknown, shards: readonly { readonly file: string; readonly header: SafetensorsHeader }[]) => readonly string[];

/** Largest JSON file of a model, by name (cuda/model-limits.json); other JSON files are not read here. */
const JSON_LIMITS: Readonly<Record<string, number>> = { 'config.json': MODEL_LIMITS.configJsonBytes, 'tokenizer.json': MODEL_LIMITS.tokenizer.jsonBytes };

/**
 * Why a name cannot be a file of an artifact, or undefined when it can. Names become paths in the host
 * pool's model directory, so `.` and `..` are out, and so is every name starting with a dot: the host pool
 * keeps its own bookkeeping under dot names (`.fetch-*`, `.trash-*`) and the CLI skips hidden files.
 */
export function fileNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return 'is not a plain file name (letters, digits, ".", "_", "-")';
  if (name.startsWith('.')) return 'starts with "." (hidden and reserved names are not model files)';
  return undefined;
}

export function checkFileList(files: unknown): ArtifactFileEntry[] {
  if (!Array.isArray(files) || files.length === 0) throw new TidepoolError('invalid_files', 'files: must be a non-empty array', { param: 'files' });
  // Room for the shards plus config, tokenizer, index and a few files the engine ignores; checked before the walk.
  const maxFiles = MODEL_LIMITS.safetensors.files + 16;
  if (files.length > maxFiles) throw new TidepoolError('invalid_model', `files: ${files.length} files exceed the limit of ${maxFiles}`, { param: 'files' });
  const seen = new Set<string>();
  const out: ArtifactFileEntry[] = [];
  files.forEach((f: unknown, i) => {
    const e = f as Partial<ArtifactFileEntry> | null;
    const at = `files[${i}]`;
    if (typeof e?.name !== 'string') throw new TidepoolError('invalid_files', `${at}.name: must be a string`, { param: 'files' });
    const nameProblem = fileNameProblem(e.name);
    if (nameProblem) throw new TidepoolError('invalid_files', `${at}.name: ${JSON.stringify(e.name)} ${nameProblem}`, { param: 'files' });
    if (typeof e.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(e.digest))
      throw new TidepoolError('invalid_files', `${at}.digest: must be sha256:<64 hex>`, { param: 'files' });
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0)
      throw new TidepoolError('invalid_files', `${at}.size: must be a non-negative integer`, { param: 'files' });
    if (seen.has(e.name)) throw new TidepoolError('invalid_files', `${at}.name: duplicate file ${e.name}`, { param: 'files' });
    seen.add(e.name);
    out.push({ name: e.name, digest: e.digest, size: e.size });
  });
  if (!seen.has('config.json')) throw new TidepoolError('invalid_files', 'files: config.json is required', { param: 'files' });
  const shards = out.filter((f) => f.name.endsWith('.safetensors')).length;
  if (shards === 0) throw new TidepoolError('invalid_files', 'files: at least one .safetensors file is required', { param: 'files' });
  if (shards > MODEL_LIMITS.safetensors.files) {
    throw new TidepoolError('invalid_model', `files: ${shards} .safetensors files exceed the limit of ${MODEL_LIMITS.safetensors.files}`, { param: 'files' });
  }
  return out;
}

/** Every listed blob must be in the store with the declared size; missing ones are named together. */
export async function checkBlobsPresent(blobs: BlobReader, files: readonly ArtifactFileEntry[]): Promise<void> {
  const sizes = await Promise.all(files.map((f) => blobs.size(f.digest)));
  const missing = files.filter((_, i) => sizes[i] === undefined).map((f) => `${f.name} (${f.digest})`);
  if (missing.length > 0) throw new TidepoolError('missing_blobs', `blobs not uploaded: ${missing.join(', ')}`, { param: 'files' });
  const wrong = files.flatMap((f, i) => (sizes[i] === f.size ? [] : [`${f.name}: declared ${f.size} bytes, stored ${sizes[i]}`]));
  if (wrong.length > 0) throw new TidepoolError('size_mismatch', wrong.join('; '), { param: 'files' });
}

/** A model's JSON file as text, refused past its limit before a byte is read. */
async function readText(blobs: BlobReader, file: ArtifactFileEntry): Promise<string> {
  const limit = JSON_LIMITS[file.name] ?? MODEL_LIMITS.configJsonBytes;
  if (file.size > limit) throw new TidepoolError('invalid_model', `${file.name}: ${file.size} bytes exceeds the limit of ${limit}`, { param: file.name });
  return (await blobs.read(file.digest)).toString('utf8');
}

async function readJson(blobs: BlobReader, file: ArtifactFileEntry): Promise<unknown> {
  const text = await readText(blobs, file);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TidepoolError('invalid_model', `${file.name}: not valid JSON: ${(error as Error).message}`, { param: file.name });
  }
}

/** Reads a safetensors header with two range reads, whatever the file's size. */
export async function readStoredHeader(blobs: BlobReader, file: ArtifactFileEntry): Promise<SafetensorsHeader> {
  const prefix = await blobs.read(file.digest, { start: 0, end: Math.min(8, file.size) });
  const headerLength = readHeaderLength(prefix, file.size, file.name);
  const bytes = await blobs.read(file.digest, { start: 0, end: 8 + headerLength });
  return parseSafetensorsHeader(bytes, file.size, file.name);
}

/** What deploy learned about a model that passed: config.json, and tokenizer.json's text when there is one. */
export interface CheckedModel {
  readonly config: Record<string, unknown>;
  readonly tokenizerText?: string;
}

/**
 * Loads config.json, every safetensors header and tokenizer.json from the store and checks them against
 * each other and the shared model limits, so a truncated, mis-shaped or hostile model is refused at deploy
 * (422 naming the problem) instead of failing at its first cold start. Config first: a config past the
 * limits is refused before anything proportional to what it claims is built.
 */
export async function checkModel(blobs: BlobReader, files: readonly ArtifactFileEntry[], validate: ModelValidator): Promise<CheckedModel> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const config = await readJson(blobs, byName.get('config.json')!);
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new TidepoolError('invalid_model', 'config.json: must be a JSON object', { param: 'config.json' });
  const shards = [];
  for (const file of files.filter((f) => f.name.endsWith('.safetensors'))) {
    try {
      shards.push({ file: file.name, header: await readStoredHeader(blobs, file) });
    } catch (error) {
      if (error instanceof SafetensorsError) throw new TidepoolError('invalid_model', error.message, { param: file.name });
      throw error;
    }
  }
  const problems = validate(config, shards);
  if (problems.length > 0)
    throw new TidepoolError('invalid_model', capProblems(problems, (n) => `and ${n} more problem(s)`).join('; '), { param: 'config.json' });
  const vocabSize = Number((config as Record<string, unknown>).vocab_size);
  // Without tokenizer.json the model speaks byte-level ids (platform/models/tokenizer.ts).
  const tokenizerFile = byName.get('tokenizer.json');
  const tokenizerText = tokenizerFile ? await readText(blobs, tokenizerFile) : undefined;
  const tokenizerProblems = tokenizerText === undefined ? byteLevelVocabProblems(vocabSize) : tokenizerJsonProblems(parseTokenizer(tokenizerText), vocabSize);
  if (tokenizerProblems.length > 0)
    throw new TidepoolError('invalid_model', tokenizerProblems.join('; '), { param: tokenizerText === undefined ? 'config.json' : 'tokenizer.json' });
  return { config: config as Record<string, unknown>, ...(tokenizerText !== undefined && { tokenizerText }) };
}

function parseTokenizer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TidepoolError('invalid_model', `tokenizer.json: not valid JSON: ${(error as Error).message}`, { param: 'tokenizer.json' });
  }
}
