// A small multi-function workload and its replay through the real HTTP API: native invoke, streaming, one
// request per arrival at its planned time, each token's arrival recorded by the client. What the client
// measured (prompt and completion tokens, token times) is what the simulator then replays.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, exponential } from '../../../runtime/sim/rng.js';
import type { Slo } from '../../../protocol/slo.js';

export interface PlannedRequest {
  readonly fn: string;
  readonly atMs: number;
  readonly promptWords: number;
  readonly maxTokens: number;
}

export interface WorkloadSpec {
  readonly functions: readonly string[];
  /** Requests per second per function. */
  readonly rate: number;
  readonly durationMs: number;
  readonly promptWords: readonly [number, number];
  readonly outputTokens: readonly [number, number];
  readonly seed: number;
}

/** Poisson arrivals per function, uniform prompt and output lengths; deterministic for a seed. */
export function planWorkload(w: WorkloadSpec): PlannedRequest[] {
  const rng = createRng(w.seed);
  const uniform = ([lo, hi]: readonly [number, number]) => lo + Math.floor(rng() * (hi - lo + 1));
  const out: PlannedRequest[] = [];
  for (const fn of w.functions) {
    for (let t = exponential(rng, w.rate / 1000); t < w.durationMs; t += exponential(rng, w.rate / 1000)) {
      out.push({ fn, atMs: t, promptWords: uniform(w.promptWords), maxTokens: uniform(w.outputTokens) });
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

export interface ServedRequest extends PlannedRequest {
  /** When the client sent it, relative to the run's start. */
  readonly sentMs: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Arrival of each token event, relative to the run's start. */
  readonly tokenMs: readonly number[];
  readonly status: number;
}

const WORDS = ['tide', 'pool', 'river', 'shell', 'stone', 'wave', 'sand', 'salt', 'kelp', 'crab', 'moon', 'light'];

/** Replays `plan` against `url`; resolves when every request has ended. */
export async function replay(url: string, plan: readonly PlannedRequest[]): Promise<ServedRequest[]> {
  const start = performance.now();
  const now = () => performance.now() - start;
  return Promise.all(
    plan.map(async (r) => {
      const wait = r.atMs - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const sentMs = now();
      const prompt = Array.from({ length: r.promptWords }, (_, i) => WORDS[(i * 7 + r.promptWords) % WORDS.length]).join(' ');
      const res = await fetch(`${url}/v1/functions/${r.fn}/invoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt, max_tokens: r.maxTokens, temperature: 0.8, seed: Math.round(r.atMs), stream: true }),
      });
      const tokenMs: number[] = [];
      let usage = { prompt_tokens: 0, completion_tokens: 0 };
      if (res.status === 200 && res.body) {
        const decoder = new TextDecoder();
        let buffered = '';
        for await (const chunk of res.body) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          let cut: number;
          while ((cut = buffered.indexOf('\n\n')) >= 0) {
            const frame = buffered.slice(0, cut);
            buffered = buffered.slice(cut + 2);
            if (!frame.startsWith('data: {')) continue;
            const event = JSON.parse(frame.slice(6)) as { type?: string; usage?: typeof usage };
            if (event.type === 'token') tokenMs.push(now());
            if (event.type === 'done' && event.usage) usage = event.usage;
          }
        }
      } else {
        await res.text();
      }
      return { ...r, sentMs, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, tokenMs, status: res.status };
    }),
  );
}

/** A function folder for `tidepool deploy`: function.yaml pointing at a synthesized model directory. */
export async function writeFunctionDir(root: string, name: string, modelDir: string, slo: Slo): Promise<string> {
  const dir = join(root, 'functions', name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'function.yaml'),
    [
      `name: ${name}`,
      `model: {path: ${JSON.stringify(modelDir)}}`,
      'context_length: 2048',
      `slo: {ttft_ms: ${Math.round(slo.ttftMs)}, tpot_ms: ${Math.round(slo.tpotMs)}}`,
      'keep_warm_ms: 600000',
      '',
    ].join('\n'),
  );
  return dir;
}
