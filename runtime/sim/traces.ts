import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { installRoot } from '../../protocol/install-root.js';

/** Readers for the traces under ../shared/traces (read in place, never copied). Cached per process. */
export const DEFAULT_TRACES_DIR = resolve(installRoot(), '../shared/traces');

export interface RequestLength {
  readonly prompt: number;
  readonly output: number;
}

const lengthCache = new Map<string, RequestLength[]>();

/** Azure LLM 2023 `conv` (or `code`) request lengths: ContextTokens, GeneratedTokens. */
export function azureLengths(service: 'conv' | 'code' = 'conv', dir = DEFAULT_TRACES_DIR): readonly RequestLength[] {
  const path = join(dir, 'azure_llm_2023', `AzureLLMInferenceTrace_${service}.csv`);
  const hit = lengthCache.get(path);
  if (hit) return hit;
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0);
  const out = rows.map((l) => {
    const [, ctx, gen] = l.split(',');
    return { prompt: Math.max(1, Number(ctx)), output: Math.max(1, Number(gen)) };
  });
  lengthCache.set(path, out);
  return out;
}

export interface ModelArrival {
  /** Seconds from the first request of the trace. */
  readonly atS: number;
  readonly model: string;
}

let genAiCache: ModelArrival[] | undefined;

/** Alibaba GenAI 2026: (arrival, base model id) per request, sorted by time. */
export function alibabaModelArrivals(dir = DEFAULT_TRACES_DIR): readonly ModelArrival[] {
  if (genAiCache) return genAiCache;
  const lines = readFileSync(join(dir, 'alibaba_genai_lora_2026', 'lora_request_trace.csv'), 'utf8').split('\n');
  const header = lines[0]!.split(',');
  const tCol = header.indexOf('gmt_create');
  const mCol = header.indexOf('checkpoint_model_version_id');
  const rows = lines
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split(','));
  const t0 = Date.parse(`${rows[0]![tCol]!.replace(' ', 'T')}Z`);
  genAiCache = rows.map((c) => ({ atS: (Date.parse(`${c[tCol]!.replace(' ', 'T')}Z`) - t0) / 1000, model: c[mCol]! }));
  return genAiCache;
}

export interface ServeGenWindow {
  readonly startS: number;
  readonly rate: number;
  readonly cv: number;
  readonly pattern: 'Gamma' | 'Weibull' | '';
  readonly p1: number;
  readonly p2: number;
}

export interface ServeGenClient {
  /** `<category>/<model>/<client>`, e.g. `language/m-large/17`. */
  readonly id: string;
  readonly modelDir: string;
  readonly windows: readonly ServeGenWindow[];
  readonly meanRate: number;
}

const serveGenCache = new Map<string, ServeGenClient[]>();

/** ServeGen per-client rate curves of one model directory, e.g. `language/m-large`. */
export function serveGenClients(modelDir: string, dir = DEFAULT_TRACES_DIR): readonly ServeGenClient[] {
  const hit = serveGenCache.get(modelDir);
  if (hit) return hit;
  const base = join(dir, 'alibaba_servegen', modelDir);
  const files = readdirSync(base)
    .filter((f) => f.endsWith('-trace.csv'))
    .sort();
  const out = files.map((f) => {
    const windows = readFileSync(join(base, f), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const [t, rate, cv, pattern, p1, p2] = l.split(',');
        return { startS: Number(t), rate: Number(rate), cv: Number(cv), pattern: (pattern ?? '') as ServeGenWindow['pattern'], p1: Number(p1), p2: Number(p2) };
      });
    const meanRate = windows.reduce((s, w) => s + w.rate, 0) / Math.max(1, windows.length);
    return { id: `${modelDir}/${f.replace('chunk-', '').replace('-trace.csv', '')}`, modelDir, windows, meanRate };
  });
  serveGenCache.set(modelDir, out);
  return out;
}
