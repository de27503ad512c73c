import type { Slo } from '../../protocol/slo.js';
import { SHAPES } from './catalogue.js';
import { createRng, exponential, gamma, gammaFn, weibull } from './rng.js';
import type { Rng } from './rng.js';
import { alibabaModelArrivals, azureLengths, serveGenClients } from './traces.js';
import type { RequestLength, ServeGenWindow } from './traces.js';
import { simulatedWeightsDigest, type WeightsDigest } from '../../protocol/weights-digest.js';

/** A function (model) in a simulated workload. Its key is `<shape>/<name>`. */
export interface SimFunction {
  readonly weightsDigest: WeightsDigest;
  readonly shape: string;
  readonly bytes: number;
  /** Mean arrival rate over the horizon, req/s (for placement by baselines that plan ahead). */
  readonly rate: number;
}

export interface SimRequest {
  readonly atMs: number;
  readonly weightsDigest: WeightsDigest;
  readonly prompt: number;
  readonly output: number;
}

export interface Workload {
  readonly name: string;
  readonly functions: readonly SimFunction[];
  /** Sorted by `atMs`. */
  readonly requests: readonly SimRequest[];
  readonly durationMs: number;
  readonly slo: Slo;
  /** How it was built, for result files. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Aegaeon's default SLO (TTFT 10 s, TPOT 100 ms), times `scale` (BENCHMARKS.md also uses 0.5 and 0.3). */
export function defaultSlo(scale = 1): Slo {
  return { ttftMs: 10_000 * scale, tpotMs: 100 * scale };
}

/** Prompts longer than this are cut to it (keeps prompt + output inside a 8k context). */
const MAX_PROMPT = 6144;

function drawLength(rng: Rng, lengths: readonly RequestLength[]): RequestLength {
  const l = lengths[Math.floor(rng() * lengths.length)]!;
  return { prompt: Math.min(MAX_PROMPT, l.prompt), output: Math.min(2048, l.output) };
}

function fn(shape: string, name: string, rate: number): SimFunction {
  return { weightsDigest: simulatedWeightsDigest(shape, name), shape, bytes: SHAPES[shape]!.weightBytes, rate };
}

export interface W1Options {
  readonly models: number;
  readonly ratePerModel: number;
  readonly durationS: number;
  readonly seed: number;
  readonly sloScale?: number;
}

/** W1: Aegaeon's setup. 60% Qwen2.5-7B, 20% Yi-1.5-9B, 20% Llama2-13B; Poisson per model; Azure conv lengths. */
export function w1(o: W1Options): Workload {
  const rng = createRng(o.seed);
  const lengths = azureLengths('conv');
  const functions = Array.from({ length: o.models }, (_, i) => {
    const f = i / o.models;
    const shape = f < 0.6 ? 'qwen2_5_7b' : f < 0.8 ? 'yi1_5_9b_chat' : 'llama2_13b_chat';
    return fn(shape, `w1-${String(i).padStart(3, '0')}`, o.ratePerModel);
  });
  const requests: SimRequest[] = [];
  for (const f of functions) {
    for (let t = exponential(rng, o.ratePerModel); t < o.durationS; t += exponential(rng, o.ratePerModel)) {
      requests.push({ atMs: t * 1000, weightsDigest: f.weightsDigest, ...drawLength(rng, lengths) });
    }
  }
  return finish('W1', functions, requests, o.durationS, o.sloScale, { ...o, mix: '60% qwen2_5_7b / 20% yi1_5_9b / 20% llama2_13b', lengths: 'azure conv' });
}

export interface W2Options {
  /** Total arrival rate after time compression, req/s. */
  readonly totalRate: number;
  readonly durationS: number;
  readonly seed: number;
  readonly sloScale?: number;
}

const W2_SIZES: readonly [string, number][] = [
  ['qwen2_5_1_5b', 0.3],
  ['qwen2_5_3b', 0.2],
  ['qwen2_5_7b', 0.35],
  ['qwen2_5_14b', 0.15],
];

/**
 * W2: the market. Model ids and arrival times from the Alibaba GenAI trace, compressed in time so the whole
 * trace arrives at `totalRate`; a window of `durationS` starts at a seed-chosen offset. Each trace model gets
 * a size (1.5B 30%, 3B 20%, 7B 35%, 14B 15%, drawn once per model id); lengths from Azure conv.
 */
export function w2(o: W2Options): Workload {
  const rng = createRng(o.seed);
  const trace = alibabaModelArrivals();
  const span = trace[trace.length - 1]!.atS;
  const squeeze = o.totalRate / (trace.length / span);
  const total = span / squeeze;
  const offset = Math.max(0, total - o.durationS) * rng();
  const sizeRng = createRng(2026);
  const shapeOf = new Map<string, string>();
  const counts = new Map<WeightsDigest, number>();
  const lengths = azureLengths('conv');
  const requests: SimRequest[] = [];
  for (const a of trace) {
    if (!shapeOf.has(a.model)) shapeOf.set(a.model, pick(sizeRng, W2_SIZES));
    const t = a.atS / squeeze - offset;
    if (t < 0 || t >= o.durationS) continue;
    const key = simulatedWeightsDigest(shapeOf.get(a.model)!, a.model);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    requests.push({ atMs: t * 1000, weightsDigest: key, ...drawLength(rng, lengths) });
  }
  const functions = [...counts.entries()].map(([key, n]) => fn(key.split('/')[0]!, key.split('/')[1]!, n / o.durationS));
  return finish('W2', functions, requests, o.durationS, o.sloScale, { ...o, compression: squeeze, offsetS: offset, sizes: W2_SIZES });
}

export interface W3Options {
  readonly functions: number;
  readonly totalRate: number;
  readonly durationS: number;
  readonly seed: number;
  readonly sloScale?: number;
}

const W3_DIRS: readonly [string, string][] = [
  ['language/m-large', 'qwen2_5_14b'],
  ['language/m-mid', 'qwen2_5_7b'],
  ['language/m-small', 'qwen2_5_1_5b'],
];

/**
 * W3: ServeGen clients as functions. The `functions` busiest clients (by mean rate) across the three
 * language models each become a function sized by their model (large → 14B, mid → 7B, small → 1.5B). Each
 * client's rate curve (10-min windows, from a seed-chosen window) and fitted inter-arrival distribution drive
 * its arrivals, with all rates scaled by one factor so the total mean is `totalRate`.
 */
export function w3(o: W3Options): Workload {
  const rng = createRng(o.seed);
  const clients = W3_DIRS.flatMap(([dir, shape]) => serveGenClients(dir).map((c) => ({ c, shape })))
    .sort((a, b) => b.c.meanRate - a.c.meanRate || (a.c.id < b.c.id ? -1 : 1))
    .slice(0, o.functions);
  const windows = Math.min(...clients.map((x) => x.c.windows.length));
  const startWindow = Math.floor(rng() * Math.max(1, windows - Math.ceil(o.durationS / 600)));
  const scale = o.totalRate / clients.reduce((s, x) => s + x.c.meanRate, 0);
  const lengths = azureLengths('conv');
  const requests: SimRequest[] = [];
  const functions: SimFunction[] = [];
  for (const { c, shape } of clients) {
    const f = fn(shape, `sg-${c.id.replaceAll('/', '-')}`, c.meanRate * scale);
    functions.push(f);
    for (let t = 0; t < o.durationS; ) {
      const w = c.windows[(startWindow + Math.floor(t / 600)) % c.windows.length]!;
      const windowEnd = (Math.floor(t / 600) + 1) * 600;
      if (w.rate <= 0) {
        t = windowEnd;
        continue;
      }
      t += interArrival(rng, w) / scale;
      if (t < Math.min(windowEnd, o.durationS)) requests.push({ atMs: t * 1000, weightsDigest: f.weightsDigest, ...drawLength(rng, lengths) });
      else t = Math.min(t, windowEnd);
    }
  }
  return finish('W3', functions, requests, o.durationS, o.sloScale, { ...o, startWindow, rateScale: scale });
}

/** One inter-arrival gap (s) of a window at its own rate, shaped by the fitted distribution. */
function interArrival(rng: Rng, w: ServeGenWindow): number {
  if (w.pattern === 'Gamma' && w.p1 > 0) return gamma(rng, w.p1, 1) / w.p1 / w.rate;
  if (w.pattern === 'Weibull' && w.p1 > 0) return weibull(rng, w.p1, 1) / gammaFn(1 + 1 / w.p1) / w.rate;
  return exponential(rng, w.rate);
}

function pick(rng: Rng, weighted: readonly [string, number][]): string {
  let u = rng();
  for (const [v, w] of weighted) if ((u -= w) < 0) return v;
  return weighted[weighted.length - 1]![0];
}

function finish(
  name: string,
  functions: SimFunction[],
  requests: SimRequest[],
  durationS: number,
  sloScale: number | undefined,
  config: Record<string, unknown>,
): Workload {
  requests.sort((a, b) => a.atMs - b.atMs || (a.weightsDigest < b.weightsDigest ? -1 : 1));
  return { name, functions, requests, durationMs: durationS * 1000, slo: defaultSlo(sloScale ?? 1), config };
}

/**
 * The same workload at `factor` × its arrival rate: arrival times and the horizon are compressed, lengths
 * and functions kept. Goodput of a trace (which has no rate knob) is measured this way.
 */
export function scaleRate(wl: Workload, factor: number): Workload {
  if (factor === 1) return wl;
  return {
    ...wl,
    functions: wl.functions.map((f) => ({ ...f, rate: f.rate * factor })),
    requests: wl.requests.map((r) => ({ ...r, atMs: r.atMs / factor })),
    durationMs: wl.durationMs / factor,
    config: { ...wl.config, rateFactor: factor },
  };
}
