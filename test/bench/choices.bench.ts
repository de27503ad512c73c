// `npm run bench -- choices [--size tiny|full]`: what `n` costs through the whole API. One chat completion
// with a long prompt and n = 1..16 choices (non-streaming, 8 tokens each, sampled) on the real CPU engine.
// Each choice is its own engine sequence, so the prompt is prefilled n times; the row prints the prefill
// tokens computed beside what the engine's fork (`add` with `seqs`, docs/engine-protocol.md "n > 1", not yet
// used by the API) would compute: one prefill. Anchor: n times the n = 1 latency (no batching at all).
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { startE2eServer } from '../e2e/e2e-server.js';

interface Row {
  readonly n: number;
  readonly promptTokens: number;
  readonly medianMs: number;
  readonly linearAnchorMs: number;
  readonly prefillTokensComputed: number;
  readonly prefillTokensWithFork: number;
}

export default async function choicesBench({ size, outDir }: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const server = await startE2eServer({ requireEngine: true });
  try {
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    const prompt = 'the tide pool holds a small world of its own '.repeat(size === 'full' ? 48 : 8);
    const counts = size === 'full' ? [1, 2, 4, 8, 16] : [1, 4];
    const reps = size === 'full' ? 7 : 2;
    const ask = async (n: number, seed: number) => {
      const started = performance.now();
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: prompt }], n, max_tokens: 8, temperature: 1, seed, ignore_eos: true }),
      });
      const body = (await res.json()) as { usage?: { prompt_tokens: number } };
      if (res.status !== 200) throw new Error(`n=${n}: ${res.status} ${JSON.stringify(body)}`);
      return { ms: performance.now() - started, promptTokens: body.usage!.prompt_tokens };
    };
    await ask(1, 0); // the model's cold start is not part of any row
    const rows: Row[] = [];
    let single = 0;
    for (const n of counts) {
      const runs = [];
      for (let i = 0; i < reps; i++) runs.push(await ask(n, i + 1));
      const medianMs = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
      if (n === 1) single = medianMs;
      const promptTokens = runs[0]!.promptTokens;
      rows.push({ n, promptTokens, medianMs, linearAnchorMs: n * single, prefillTokensComputed: n * promptTokens, prefillTokensWithFork: promptTokens });
    }
    const device = `${cpus()[0]?.model ?? 'CPU'} (CPU engine, 2 threads, ${cpus().length} cores visible)`;
    console.log(`device: ${device}; tiny-chat, max_tokens 8, median of ${reps}`);
    console.log('n   prompt  ms/request  anchor n×(n=1) ms  prefill tokens computed  with the engine fork');
    for (const r of rows) {
      console.log(
        `${String(r.n).padEnd(4)}${String(r.promptTokens).padEnd(8)}${r.medianMs.toFixed(1).padEnd(12)}${r.linearAnchorMs.toFixed(1).padEnd(19)}${String(r.prefillTokensComputed).padEnd(25)}${r.prefillTokensWithFork}`,
      );
    }
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, `choices-${size}.json`), `${JSON.stringify({ date: new Date().toISOString(), device, reps, rows }, null, 2)}\n`);
  } finally {
    await server.close();
  }
}
