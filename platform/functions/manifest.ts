import { parse as parseYaml } from 'yaml';
import { QUOTA_LIMIT_NAMES, type QuotaLimits } from '../quota/quota-limits.js';
import { yamlNestingDepth } from './yaml-depth.js';
import { controlCharProblem } from '../db/control-chars.js';

/**
 * `function.yaml`: what a function is. Every field but `name` and `model` has a default, written here and in
 * docs/cli.md. The parser reports every problem at once, each naming its field (`slo.tpot_ms: must be a
 * positive integer`), so a user fixes a manifest in one pass.
 */
export interface FunctionManifest {
  readonly name: string;
  readonly description: string;
  readonly model: ModelSource;
  /** Longest prompt + completion in tokens; null means the model's `max_position_embeddings`. */
  readonly context_length: number | null;
  readonly defaults: { readonly max_tokens: number; readonly temperature: number; readonly top_p: number };
  readonly slo: { readonly ttft_ms: number; readonly tpot_ms: number };
  /** How long weights stay in host memory after the last invocation. */
  readonly keep_warm_ms: number;
  /** Replicas kept warm even when idle; 0 scales to zero. */
  readonly min_warm: number;
  /**
   * Rate and concurrency limits for all callers of the function together (each key's own limits apply
   * too); absent when the manifest has no `limits` block, and a null field is unlimited.
   */
  readonly limits?: QuotaLimits;
  /**
   * What the function serves: text generation (absent, `generate`) or embeddings (`embed`: `/v1/embeddings`,
   * the final hidden states pooled and L2-normalised); the generating routes refuse an embedding function.
   */
  readonly task?: FunctionTask;
  /** With `task: embed`: `last` (the last prompt position, vLLM's default for decoder models) or `mean`. */
  readonly pooling?: EmbeddingPooling;
}

export type FunctionTask = 'generate' | 'embed';
export type EmbeddingPooling = 'mean' | 'last';

export type ModelSource =
  | { readonly path: string }
  | { readonly synth: { readonly shape: string; readonly seed: number; readonly dtype?: 'f32' | 'f16' | 'bf16' } };

/** Aegaeon's default SLO (TTFT 10 s, TPOT 100 ms). */
export const DEFAULT_SLO = Object.freeze({ ttft_ms: 10_000, tpot_ms: 100 });
export const DEFAULT_GENERATION = Object.freeze({ max_tokens: 256, temperature: 0.7, top_p: 1 });
export const DEFAULT_KEEP_WARM_MS = 300_000;
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export type ManifestResult = { readonly ok: true; readonly manifest: FunctionManifest } | { readonly ok: false; readonly problems: readonly string[] };

export class ManifestError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ManifestError';
  }
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads each field through one checker so problems accumulate instead of throwing on the first. */
class FieldReader {
  readonly problems: string[] = [];

  object(parent: Obj, key: string, path: string): Obj | undefined {
    const v = parent[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) return this.fail(path, 'must be a mapping');
    return v;
  }

  /** `text` strings (descriptions) may hold tab and line breaks; other strings no control character at all. */
  string(parent: Obj, key: string, path: string, fallback?: string, kind: 'name' | 'text' = 'name'): string | undefined {
    const v = parent[key];
    if (v === undefined || v === null) return fallback ?? this.fail(path, 'is required');
    if (typeof v !== 'string') return this.fail(path, 'must be a string');
    const control = controlCharProblem(v, kind);
    if (control) return this.fail(path, control);
    return v;
  }

  integer(parent: Obj, key: string, path: string, fallback: number | undefined, min: number): number | undefined {
    const v = parent[key];
    if (v === undefined || v === null) return fallback === undefined ? this.fail(path, 'is required') : fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      return this.fail(path, min > 0 ? 'must be a positive integer' : 'must be a non-negative integer');
    }
    return v;
  }

  number(parent: Obj, key: string, path: string, fallback: number, min: number, max: number, minExclusive = false): number {
    const v = parent[key];
    if (v === undefined || v === null) return fallback;
    const tooLow = typeof v === 'number' && (minExclusive ? v <= min : v < min);
    if (typeof v !== 'number' || !Number.isFinite(v) || tooLow || v > max) {
      this.fail(path, `must be a number in ${minExclusive ? '(' : '['}${min}, ${max}]`);
      return fallback;
    }
    return v;
  }

  unknownKeys(obj: Obj, allowed: readonly string[], prefix: string): void {
    for (const key of Object.keys(obj)) {
      // Quoted unless plain, so an empty or odd key is still visible in `<key>: is not a known field`.
      if (!allowed.includes(key)) this.fail(`${prefix}${/^[\w-]+$/.test(key) ? key : JSON.stringify(key)}`, 'is not a known field');
    }
  }

  fail(path: string, message: string): undefined {
    this.problems.push(`${path}: ${message}`);
    return undefined;
  }
}

const TOP_KEYS = ['name', 'description', 'model', 'context_length', 'defaults', 'slo', 'keep_warm_ms', 'min_warm', 'limits', 'task', 'pooling'];

/** `task` and `pooling`: pooling only for an embedding function, which pools `last` unless it says `mean`. */
function readTask(r: FieldReader, root: Obj): { task?: FunctionTask; pooling?: EmbeddingPooling } {
  const task = root.task ?? 'generate';
  if (task !== 'generate' && task !== 'embed') return r.fail('task', 'must be generate or embed') ?? {};
  const pooling = root.pooling;
  if (pooling !== undefined && pooling !== null && task !== 'embed') return r.fail('pooling', 'is only for task: embed') ?? {};
  if (pooling !== undefined && pooling !== null && pooling !== 'mean' && pooling !== 'last') return r.fail('pooling', 'must be mean or last') ?? {};
  return task === 'embed' ? { task, pooling: (pooling as EmbeddingPooling | null | undefined) ?? 'last' } : {};
}

function readModel(r: FieldReader, root: Obj): ModelSource | undefined {
  const model = r.object(root, 'model', 'model');
  if (!model) return root.model === undefined || root.model === null ? r.fail('model', 'is required') : undefined;
  r.unknownKeys(model, ['path', 'synth'], 'model.');
  const hasPath = model.path !== undefined;
  const hasSynth = model.synth !== undefined;
  if (hasPath === hasSynth) return r.fail('model', 'must have exactly one of path or synth');
  if (hasPath) {
    const path = r.string(model, 'path', 'model.path');
    if (path === '') return r.fail('model.path', 'must not be empty');
    return path === undefined ? undefined : { path };
  }
  const synth = r.object(model, 'synth', 'model.synth');
  if (!synth) return undefined;
  r.unknownKeys(synth, ['shape', 'seed', 'dtype'], 'model.synth.');
  const shape = r.string(synth, 'shape', 'model.synth.shape');
  if (shape !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(shape)) r.fail('model.synth.shape', 'must be a shape name such as tiny');
  const seed = r.integer(synth, 'seed', 'model.synth.seed', 0, 0);
  const dtype = synth.dtype;
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') r.fail('model.synth.dtype', 'must be f32, f16 or bf16');
  if (shape === undefined || seed === undefined) return undefined;
  return { synth: dtype === undefined ? { shape, seed } : { shape, seed, dtype: dtype as 'f32' | 'f16' | 'bf16' } };
}

function readLimits(r: FieldReader, root: Obj): QuotaLimits | undefined {
  const limits = r.object(root, 'limits', 'limits');
  if (!limits) return undefined;
  r.unknownKeys(limits, QUOTA_LIMIT_NAMES, 'limits.');
  const read = (key: keyof QuotaLimits): number | null =>
    limits[key] === undefined || limits[key] === null ? null : (r.integer(limits, key, `limits.${key}`, undefined, 1) ?? null);
  return { rpm: read('rpm'), tpm: read('tpm'), concurrency: read('concurrency') };
}

function readName(r: FieldReader, root: Obj): string | undefined {
  const name = r.string(root, 'name', 'name');
  if (name !== undefined && !NAME_PATTERN.test(name)) {
    return r.fail('name', 'must be 1-63 characters of a-z, 0-9 and -, starting and ending with a letter or digit');
  }
  return name;
}

/** Validates an already-parsed manifest object (from YAML or from a request body). */
export function parseManifest(input: unknown): ManifestResult {
  const r = new FieldReader();
  if (!isObject(input)) return { ok: false, problems: ['manifest: must be a mapping'] };
  r.unknownKeys(input, TOP_KEYS, '');
  const name = readName(r, input);
  const description = r.string(input, 'description', 'description', '', 'text') ?? '';
  const model = readModel(r, input);
  const context =
    input.context_length === undefined || input.context_length === null ? null : r.integer(input, 'context_length', 'context_length', undefined, 1);
  const d = r.object(input, 'defaults', 'defaults') ?? {};
  r.unknownKeys(d, ['max_tokens', 'temperature', 'top_p'], 'defaults.');
  const defaults = {
    max_tokens: r.integer(d, 'max_tokens', 'defaults.max_tokens', DEFAULT_GENERATION.max_tokens, 1) ?? 0,
    temperature: r.number(d, 'temperature', 'defaults.temperature', DEFAULT_GENERATION.temperature, 0, 2),
    top_p: r.number(d, 'top_p', 'defaults.top_p', DEFAULT_GENERATION.top_p, 0, 1, true),
  };
  const s = r.object(input, 'slo', 'slo') ?? {};
  r.unknownKeys(s, ['ttft_ms', 'tpot_ms'], 'slo.');
  const slo = {
    ttft_ms: r.integer(s, 'ttft_ms', 'slo.ttft_ms', DEFAULT_SLO.ttft_ms, 1) ?? 0,
    tpot_ms: r.integer(s, 'tpot_ms', 'slo.tpot_ms', DEFAULT_SLO.tpot_ms, 1) ?? 0,
  };
  const keepWarm = r.integer(input, 'keep_warm_ms', 'keep_warm_ms', DEFAULT_KEEP_WARM_MS, 0) ?? 0;
  const minWarm = r.integer(input, 'min_warm', 'min_warm', 0, 0) ?? 0;
  const limits = readLimits(r, input);
  const task = readTask(r, input);
  if (r.problems.length > 0 || name === undefined || model === undefined || context === undefined) {
    return { ok: false, problems: r.problems };
  }
  const manifest: FunctionManifest = {
    name,
    description,
    model,
    context_length: context,
    defaults,
    slo,
    keep_warm_ms: keepWarm,
    min_warm: minWarm,
    ...(limits ? { limits } : {}),
    ...task,
  };
  return { ok: true, manifest: deepFreeze(manifest) };
}

/** A manifest nests 3 levels; far deeper texts are refused before yaml's recursive composer sees them. */
export const MAX_YAML_DEPTH = 32;

/** Parses `function.yaml` text; YAML syntax errors are reported as a problem of the whole file. */
export function parseManifestYaml(text: string, file = 'function.yaml'): ManifestResult {
  if (yamlNestingDepth(text) > MAX_YAML_DEPTH) {
    return { ok: false, problems: [`${file}: invalid YAML: collections nest deeper than ${MAX_YAML_DEPTH} levels`] };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, problems: [`${file}: invalid YAML: ${message}`] };
  }
  return parseManifest(doc);
}

export function assertManifest(input: unknown): FunctionManifest {
  const result = parseManifest(input);
  if (!result.ok) throw new ManifestError(result.problems);
  return result.manifest;
}

function deepFreeze<T>(value: T): T {
  if (isObject(value)) for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
