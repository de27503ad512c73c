import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoneReason, ModelRef, SequenceSink } from '../../../runtime/engine/engine.js';
import { startEngineSupervisor } from '../../../runtime/engine/engine-supervisor.js';
import type { EngineSupervisor } from '../../../runtime/engine/engine-supervisor.js';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import type { GpuScheduler, SchedulerEvent } from '../../../runtime/scheduler/gpu-scheduler.js';
import { waitFor } from '../../helpers/wait-for.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { digest } from '../../helpers/weights-digest.js';

// The production GpuScheduler driving the real engine binary (CPU backend) with two fixture models submitted
// at once. The SLO is so tight that both models are always late, and the minimum turn is lowered to 0 (a
// cost option), so the tidepool policy hands the GPU back and forth every few tokens; both outputs must
// still be the reference greedy tokens.
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const engineBin = process.env.TIDEPOOL_ENGINE_BIN ?? join(repo, 'cuda/build/tidepool-engine');
const fixtures = join(repo, 'test/fixtures');
const skipReason = existsSync(engineBin) ? undefined : `engine binary not built at ${engineBin} (run node scripts/build-engine.mjs)`;
if (skipReason) console.warn(`skipping scheduler interleave test: ${skipReason}`);

interface Reference {
  readonly prompt: number[];
  readonly greedy: number[];
}

async function fixtureModel(name: string): Promise<{ ref: ModelRef; reference: Reference }> {
  const dir = join(fixtures, 'models', name);
  let bytes = 0;
  for (const f of await readdir(dir)) bytes += (await stat(join(dir, f))).size;
  const reference = JSON.parse(await readFile(join(fixtures, 'reference', `${name}.json`), 'utf8')) as Reference;
  return { ref: { weightsDigest: digest(name), dir, bytes }, reference };
}

function generate(s: GpuScheduler, id: number, ref: ModelRef, reference: Reference, order: string[]): Promise<{ tokens: number[]; reason: DoneReason }> {
  return new Promise((resolve) => {
    const tokens: number[] = [];
    const sink: SequenceSink = {
      onToken: (t) => {
        tokens.push(t);
        order.push(ref.weightsDigest);
      },
      onDone: (reason) => resolve({ tokens, reason }),
    };
    s.submit(
      {
        id,
        functionName: ref.weightsDigest,
        model: ref,
        promptTokens: reference.prompt,
        sampling: samplingWith({ max_tokens: reference.greedy.length }),
        stopTokenIds: [],
        slo: { ttftMs: 0, tpotMs: 0.01 },
      },
      sink,
    );
  });
}

async function until(done: () => boolean): Promise<void> {
  await waitFor(done, { timeoutMs: 30_000, intervalMs: 1, message: 'the scheduler to finish every request' });
}

describe.skipIf(skipReason !== undefined)('GPU scheduler on the real CPU engine', () => {
  let supervisor: EngineSupervisor;
  beforeAll(async () => {
    supervisor = await startEngineSupervisor({ engineBin, backend: 'cpu', memoryBudgetBytes: 256 << 20, threads: 1 });
  });
  afterAll(async () => supervisor?.close());

  it('interleaves two models at token granularity and keeps both outputs exact', async () => {
    const engine = await supervisor.ready(10_000);
    const llama = await fixtureModel('tiny-llama');
    const qwen = await fixtureModel('tiny-qwen2');
    const events: SchedulerEvent[] = [];
    const s = createGpuScheduler({
      engine,
      policy: 'tidepool',
      onEvent: (e) => events.push(e),
      // Token-level turns: no minimum turn, and a ~1 ms step prior so the first (load) turn is a few steps.
      costs: { minTurnMs: 0, switchOverheadMs: 1, decodeMsPerWeightByte: 1 / llama.ref.bytes },
    });
    // Both weights resident first. Otherwise the second model's load runs behind the first model's work
    // (tidepool keeps the GPU busy during a load), and on this fast engine the first model can finish its
    // few tokens before the second's weights are in. Then wait for the loop to go idle, so that both requests
    // below queue together (one joining a warm-up turn still in flight would skip its prefill in the ranking).
    await Promise.all([generate(s, 3, llama.ref, llama.reference, []), generate(s, 4, qwen.ref, qwen.reference, [])]);
    await until(() => events.at(-1)?.type === 'turn' && s.snapshot().models.every((m) => m.queued + m.running + m.parked === 0));
    events.length = 0;
    const order: string[] = [];
    const [a, b] = await Promise.all([generate(s, 1, llama.ref, llama.reference, order), generate(s, 2, qwen.ref, qwen.reference, order)]);
    await s.close();
    expect(a).toEqual({ tokens: llama.reference.greedy, reason: 'length' });
    expect(b).toEqual({ tokens: qwen.reference.greedy, reason: 'length' });
    const turns = events.flatMap((e) => (e.type === 'turn' && e.steps > 0 ? [e] : []));
    const runs = turns.filter((t, i) => i === 0 || t.weightsDigest !== turns[i - 1]!.weightsDigest);
    // Alternations between the two models while both still had tokens to produce.
    const firstDone = Math.min(order.lastIndexOf('tiny-llama'), order.lastIndexOf('tiny-qwen2'));
    const streamSwitches = order.slice(0, firstDone + 1).filter((k, i, xs) => i > 0 && k !== xs[i - 1]).length;
    console.log(
      `turns: ${turns.map((t) => `${t.weightsDigest === 'tiny-llama' ? 'L' : 'Q'}${t.steps}`).join(' ')}; ${runs.length} runs, ${streamSwitches} stream switches before the first finished`,
    );
    expect(runs.length).toBeGreaterThanOrEqual(6);
    expect(streamSwitches).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e.type === 'switch').length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...turns.map((t) => t.steps))).toBeLessThanOrEqual(8);
  }, 60_000);
});
