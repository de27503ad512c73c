import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedTensors, ModelConfigError, parseModelConfig, type ModelConfig } from './model-config.js';
import { capProblems, MODEL_LIMITS } from './model-limits.js';
import { byteLevelVocabProblems, tokenizerJsonProblems } from './tokenizer-check.js';
import { readSafetensorsHeader, SafetensorsError, type SafetensorsDtype, type SafetensorsHeader, type TensorInfo } from './safetensors.js';

/**
 * Checks a model directory the way the engine will load it, so `tidepool deploy` and the server refuse a bad
 * model with a precise list instead of the engine failing later. Only headers are read: validating a 30 GB
 * model costs a few kilobytes of I/O.
 */

export type ModelProblemCode =
  | 'missing_file'
  | 'bad_config'
  | 'unsupported_architecture'
  | 'bad_safetensors'
  | 'truncated'
  | 'bad_index'
  | 'missing_tensor'
  | 'unexpected_shape'
  | 'duplicate_tensor'
  | 'bad_tokenizer'
  /** Stands for the problems past the reported ones (`MAX_REPORTED_PROBLEMS`), counted in its message. */
  | 'more_problems';

export interface ModelProblem {
  readonly code: ModelProblemCode;
  readonly message: string;
  readonly file?: string;
  readonly tensor?: string;
}

export interface SafetensorsFile {
  readonly name: string;
  readonly header: SafetensorsHeader;
}

export interface ModelSummary {
  readonly config: ModelConfig;
  /** Safetensors files in load order. */
  readonly files: readonly { readonly name: string; readonly bytes: number }[];
  /** Sum of tensor data bytes (what the engine's weights arena holds). */
  readonly weightBytes: number;
  readonly dtypes: readonly SafetensorsDtype[];
  /** Tensors present but not used by the engine (ignored at load). */
  readonly ignoredTensors: readonly string[];
}

export class ModelValidationError extends Error {
  constructor(readonly problems: readonly ModelProblem[]) {
    super(`invalid model: ${problems.map((p) => p.message).join('; ')}`);
    this.name = 'ModelValidationError';
  }
}

export type ModelCheck = { readonly ok: true; readonly summary: ModelSummary } | { readonly ok: false; readonly problems: readonly ModelProblem[] };

export const INDEX_FILE = 'model.safetensors.index.json';

/** The first problems and one line counting the rest: a hostile model can have millions. */
export function capModelProblems(problems: readonly ModelProblem[]): ModelProblem[] {
  return capProblems(problems, (omitted) => ({ code: 'more_problems', message: `and ${omitted} more problem(s)` }));
}

function configProblems(error: unknown): ModelProblem[] {
  if (!(error instanceof ModelConfigError)) throw error;
  return error.problems.map((message) => ({
    code: message.startsWith('unsupported architecture') ? 'unsupported_architecture' : 'bad_config',
    message: `config.json: ${message}`,
    file: 'config.json',
  }));
}

function indexTensors(files: readonly SafetensorsFile[], problems: ModelProblem[]): Map<string, { file: string; info: TensorInfo }> {
  const byName = new Map<string, { file: string; info: TensorInfo }>();
  for (const file of files) {
    for (const info of file.header.tensors) {
      const previous = byName.get(info.name);
      if (previous) {
        problems.push({
          code: 'duplicate_tensor',
          message: `tensor ${info.name} is in both ${previous.file} and ${file.name}`,
          tensor: info.name,
          file: file.name,
        });
      } else {
        byName.set(info.name, { file: file.name, info });
      }
    }
  }
  return byName;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

/**
 * Checks a parsed config against already-read safetensors headers. `lm_head.weight` in a tied model is
 * accepted when its shape is right (some checkpoints keep it); other extra tensors are listed, not refused.
 */
export function checkModelParts(configJson: unknown, files: readonly SafetensorsFile[]): ModelCheck {
  const check = checkPartsUncapped(configJson, files);
  return check.ok ? check : { ok: false, problems: capModelProblems(check.problems) };
}

function checkPartsUncapped(configJson: unknown, files: readonly SafetensorsFile[]): ModelCheck {
  let config: ModelConfig;
  try {
    config = parseModelConfig(configJson);
  } catch (error) {
    return { ok: false, problems: configProblems(error) };
  }
  const problems: ModelProblem[] = [];
  const present = indexTensors(files, problems);
  const expected = expectedTensors(config);
  if (config.tieWordEmbeddings && present.has('lm_head.weight')) expected.set('lm_head.weight', [config.vocabSize, config.hiddenSize]);
  for (const [name, shape] of expected) {
    const found = present.get(name);
    if (!found) {
      problems.push({ code: 'missing_tensor', message: `missing tensor ${name} (expected shape [${shape.join(', ')}])`, tensor: name });
    } else if (!sameShape(found.info.shape, shape)) {
      problems.push({
        code: 'unexpected_shape',
        message: `tensor ${name} in ${found.file} has shape [${found.info.shape.join(', ')}], expected [${shape.join(', ')}]`,
        tensor: name,
        file: found.file,
      });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const dtypes = new Set<SafetensorsDtype>();
  for (const name of expected.keys()) dtypes.add(present.get(name)!.info.dtype);
  return {
    ok: true,
    summary: Object.freeze({
      config,
      files: files.map((f) => ({ name: f.name, bytes: f.header.fileBytes })),
      weightBytes: files.reduce((sum, f) => sum + f.header.dataBytes, 0),
      dtypes: [...dtypes].sort(),
      ignoredTensors: [...present.keys()].filter((name) => !expected.has(name)).sort(),
    }),
  };
}

/** Parses a JSON file no larger than `maxBytes`, checked before it is read. */
async function readJson(path: string, maxBytes = Number.POSITIVE_INFINITY): Promise<unknown> {
  const { size } = await stat(path);
  if (size > maxBytes) throw new Error(`${size} bytes exceeds the limit of ${maxBytes}`);
  return JSON.parse(await readFile(path, 'utf8'));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

interface WeightFiles {
  readonly names: readonly string[];
  /** tensor → file, from model.safetensors.index.json when there is one. */
  readonly weightMap?: Readonly<Record<string, string>>;
}

async function readIndex(dir: string, problems: ModelProblem[]): Promise<WeightFiles> {
  try {
    const index = (await readJson(join(dir, INDEX_FILE))) as { weight_map?: unknown };
    const map = index.weight_map;
    if (typeof map !== 'object' || map === null || !Object.values(map).every((v) => typeof v === 'string' && /^[^./\\][^/\\]*\.safetensors$/.test(v))) {
      throw new Error('weight_map must map tensor names to *.safetensors files in the same directory (not hidden ones)');
    }
    const weightMap = map as Record<string, string>;
    return { names: [...new Set(Object.values(weightMap))].sort(), weightMap };
  } catch (error) {
    problems.push({ code: 'bad_index', message: `${INDEX_FILE}: ${(error as Error).message}`, file: INDEX_FILE });
    return { names: [] };
  }
}

/** Which safetensors files to load: the index's shards if there is one, otherwise every `*.safetensors`. */
async function weightFiles(dir: string, problems: ModelProblem[]): Promise<WeightFiles> {
  if (await exists(join(dir, INDEX_FILE))) return readIndex(dir, problems);
  // Hidden files are skipped, as the deploy skips them (platform/functions/artifact.ts).
  const names = (await readdir(dir)).filter((name) => name.endsWith('.safetensors') && !name.startsWith('.')).sort();
  if (names.length === 0) problems.push({ code: 'missing_file', message: `no *.safetensors file in ${dir}` });
  return { names };
}

/** More weight files than the engine loads is refused before any header is read. */
function checkFileCount(weights: WeightFiles, problems: ModelProblem[]): WeightFiles {
  const limit = MODEL_LIMITS.safetensors.files;
  if (weights.names.length <= limit) return weights;
  problems.push({ code: 'bad_safetensors', message: `${weights.names.length} *.safetensors files exceed the limit of ${limit}` });
  return { names: [] };
}

/** tokenizer.json (when present) within the limits and inside the model's vocabulary; else byte ids must fit. */
async function checkTokenizer(dir: string, configJson: unknown, problems: ModelProblem[]): Promise<void> {
  const vocabSize = (configJson as { vocab_size?: unknown } | null)?.vocab_size;
  if (typeof vocabSize !== 'number' || !Number.isSafeInteger(vocabSize) || vocabSize <= 0) return; // config.json's own problem
  const path = join(dir, 'tokenizer.json');
  const messages: string[] = [];
  if (!(await exists(path))) messages.push(...byteLevelVocabProblems(vocabSize));
  else {
    try {
      messages.push(...tokenizerJsonProblems(await readJson(path, MODEL_LIMITS.tokenizer.jsonBytes), vocabSize));
    } catch (error) {
      messages.push(`tokenizer.json: ${error instanceof SyntaxError ? 'not valid JSON: ' : ''}${(error as Error).message}`);
    }
  }
  for (const message of messages) problems.push({ code: 'bad_tokenizer', message, file: 'tokenizer.json' });
}

/** The index must say where each tensor really is, or a loader that trusts it reads the wrong file. */
function checkIndex(weightMap: Readonly<Record<string, string>>, files: readonly SafetensorsFile[], problems: ModelProblem[]): void {
  const actual = new Map<string, string>();
  for (const file of files) for (const tensor of file.header.tensors) actual.set(tensor.name, file.name);
  for (const [tensor, file] of Object.entries(weightMap)) {
    const where = actual.get(tensor);
    if (where !== undefined && where !== file) {
      problems.push({ code: 'bad_index', message: `${INDEX_FILE}: tensor ${tensor} is listed in ${file} but stored in ${where}`, tensor, file: INDEX_FILE });
    }
  }
  for (const [tensor, file] of actual) {
    if (!Object.hasOwn(weightMap, tensor)) {
      problems.push({ code: 'bad_index', message: `${INDEX_FILE}: tensor ${tensor} in ${file} is not in weight_map`, tensor, file: INDEX_FILE });
    }
  }
}

function safetensorsProblem(error: unknown, file: string): ModelProblem {
  if (!(error instanceof SafetensorsError)) throw error;
  const code = error.message.includes(': truncated') ? 'truncated' : 'bad_safetensors';
  return { code, message: error.message, file, ...(error.tensor ? { tensor: error.tensor } : {}) };
}

async function readHeaders(dir: string, names: readonly string[], problems: ModelProblem[]): Promise<SafetensorsFile[]> {
  const files: SafetensorsFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!(await exists(path))) {
      problems.push({ code: 'missing_file', message: `missing weight file ${name}`, file: name });
      continue;
    }
    try {
      files.push({ name, header: await readSafetensorsHeader(path, name) });
    } catch (error) {
      problems.push(safetensorsProblem(error, name));
    }
  }
  return files;
}

/** Inspects a model directory; never throws for a bad model, only for I/O errors other than missing files. */
export async function inspectModelDir(dir: string): Promise<ModelCheck> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) return { ok: false, problems: [{ code: 'missing_file', message: `model directory ${dir} does not exist` }] };
  const problems: ModelProblem[] = [];
  let configJson: unknown;
  try {
    configJson = await readJson(join(dir, 'config.json'), MODEL_LIMITS.configJsonBytes);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    problems.push({
      code: missing ? 'missing_file' : 'bad_config',
      message: missing ? `missing config.json in ${dir}` : `config.json: ${(error as Error).message}`,
      file: 'config.json',
    });
  }
  const weights = checkFileCount(await weightFiles(dir, problems), problems);
  const files = await readHeaders(dir, weights.names, problems);
  if (weights.weightMap) checkIndex(weights.weightMap, files, problems);
  if (configJson === undefined) return { ok: false, problems: capModelProblems(problems) };
  await checkTokenizer(dir, configJson, problems);
  const check = checkPartsUncapped(configJson, files);
  // Missing tensors are mostly a consequence of unreadable files; report the file problems first.
  if (problems.length > 0)
    return { ok: false, problems: capModelProblems([...problems, ...(check.ok ? [] : check.problems.filter((p) => p.code !== 'missing_tensor'))]) };
  return check.ok ? check : { ok: false, problems: capModelProblems(check.problems) };
}

/** Like `inspectModelDir`, but throws `ModelValidationError` with every problem. */
export async function validateModelDir(dir: string): Promise<ModelSummary> {
  const check = await inspectModelDir(dir);
  if (!check.ok) throw new ModelValidationError(check.problems);
  return check.summary;
}
