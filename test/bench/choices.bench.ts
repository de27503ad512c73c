// `npm run bench -- choices [--size tiny|full]`: what `n` costs through the whole API. One chat completion
// with a long prompt and n = 1..16 choices (non-streaming, 8 tokens each, sampled) on the real CPU engine, two
// ways in the same run: as the API sends it (the request's choices as one group: one prefill whose KV the
// engine forks), and as n requests of one choice each with the seeds the choices use, sent together, which is
// what n cost when each choice was its own engine sequence (the prompt prefilled n times; they still share
// decode steps). The prefill tokens computed come from the engine's own count of tokens its forks saved
// (`stats.prefill_tokens_saved`). Anchor: n times the n = 1 latency (no batching at all).
import { cpus, loadavg } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import type { LocalNodeRuntime } from '../../runtime/node.js';
import { startE2eServer } from '../e2e/e2e-server.js';

type Mode = 'group' | 'separate';

interface Measured {
  readonly medianMs: number;
  /** n × prompt tokens, less what the engine says its forks saved, per request. */
  readonly prefillTokensComputed: number;
}

interface Row {
  readonly n: number;
  readonly promptTokens: number;
  /** The API's way: one request of n choices, one group on the engine. */
  readonly group: Measured;
  /** n requests of one choice each, sent together: one prefill per choice. */
  readonly separate: Measured;
  readonly linearAnchorMs: number;
}

export default async function choicesBench({ size, outDir }: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const server = await startE2eServer({ requireEngine: true });
  const node = server.node as LocalNodeRuntime;
  try {
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    const prompt = 'the tide pool holds a small world of its own '.repeat(size === 'full' ? 48 : 8);
    const counts = size === 'full' ? [1, 2, 4, 8, 16] : [1, 4];
    const reps = size === 'full' ? 7 : 2;
    const chat = async (n: number, seed: number): Promise<number> => {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: prompt }], n, max_tokens: 8, temperature: 1, seed, ignore_eos: true }),
      });
      const body = (await res.json()) as { usage?: { prompt_tokens: number } };
      if (res.status !== 200) throw new Error(`n=${n}: ${res.status} ${JSON.stringify(body)}`);
      return body.usage!.prompt_tokens;
    };
    /** One request's latency and the prefill tokens its engine computed (no other request runs meanwhile). */
    const ask = async (mode: Mode, n: number, seed: number) => {
      const savedBefore = (await node.engineStats()).prefillTokensSaved;
      const started = performance.now();
      const prompts = mode === 'group' ? [await chat(n, seed)] : await Promise.all(Array.from({ length: n }, (_, i) => chat(1, seed + i)));
      const ms = performance.now() - started;
      const saved = (await node.engineStats()).prefillTokensSaved - savedBefore;
      return { ms, promptTokens: prompts[0]!, computed: n * prompts[0]! - saved };
    };
    await ask('group', 1, 0); // the model's cold start is not part of any row
    const rows: Row[] = [];
    let single = 0;
    for (const n of counts) {
      const runs: Record<Mode, Awaited<ReturnType<typeof ask>>[]> = { group: [], separate: [] };
      // Interleaved, so a shared machine's load falls on both ways alike.
      for (let i = 0; i < reps; i++) for (const mode of ['group', 'separate'] as const) runs[mode].push(await ask(mode, n, 1000 * i + 1));
      const measured = (mode: Mode): Measured => ({
        medianMs: runs[mode].map((r) => r.ms).sort((a, b) => a - b)[Math.floor(reps / 2)]!,
        prefillTokensComputed: runs[mode][0]!.computed,
      });
      const row = { n, promptTokens: runs.group[0]!.promptTokens, group: measured('group'), separate: measured('separate') };
      if (n === 1) single = row.group.medianMs;
      rows.push({ ...row, linearAnchorMs: n * single });
    }
    const device = `${cpus()[0]?.model ?? 'CPU'} (CPU engine, 2 threads, ${cpus().length} cores visible)`;
    const load = loadavg()[0]!.toFixed(1);
    console.log(`device: ${device}; load average ${load}; tiny-chat, max_tokens 8, median of ${reps}`);
    console.log('n   prompt  group ms  prefill computed  separate ms  prefill computed  anchor n×(n=1) ms');
    for (const r of rows) {
      console.log(
        `${String(r.n).padEnd(4)}${String(r.promptTokens).padEnd(8)}${r.group.medianMs.toFixed(0).padEnd(10)}${String(r.group.prefillTokensComputed).padEnd(18)}${r.separate.medianMs.toFixed(0).padEnd(13)}${String(r.separate.prefillTokensComputed).padEnd(18)}${r.linearAnchorMs.toFixed(0)}`,
      );
    }
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `choices-${size}.json`);
    const result = { date: new Date().toISOString(), device, loadAverage: Number(load), reps, rows, ...(await runBefore(file)) };
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.close();
  }
}

/**
 * The run before the API sent choices as one group (every choice its own engine sequence), kept in the result
 * beside the new rows: carried over from the file this run replaces, or taken from it when it is that run.
 */
async function runBefore(file: string): Promise<{ before?: unknown }> {
  const previous = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as { before?: unknown; date?: string; device?: string; reps?: number; rows?: { group?: unknown }[] },
    () => undefined,
  );
  if (previous?.before) return { before: previous.before };
  if (!previous?.rows || previous.rows[0]?.group !== undefined) return {};
  const note = 'each choice its own engine sequence: the prompt prefilled once per choice';
  return { before: { date: previous.date, device: previous.device, reps: previous.reps, note, rows: previous.rows } };
}
