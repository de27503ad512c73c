import { simulatedWeightsDigest } from '../../../protocol/weights-digest.js';
import { describe, expect, it } from 'vitest';
import type { PolicyName } from '../../../runtime/scheduler/types.js';
import { costsFor } from '../../../runtime/sim/catalogue.js';
import { simulateCluster } from '../../../runtime/sim/cluster.js';
import type { ClusterResult } from '../../../runtime/sim/cluster.js';
import type { StepFit } from '../../../runtime/sim/cost-model.js';
import { fullCost, gpuLowerBound } from '../../../runtime/sim/lower-bound.js';
import { checkBound, planCapacity } from '../../../runtime/sim/plan.js';
import { GPUS } from '../../../runtime/sim/sim-types.js';
import { defaultSlo, w1 } from '../../../runtime/sim/workloads.js';
import type { Workload } from '../../../runtime/sim/workloads.js';

const H100 = GPUS.H100!;

function fit(prefill: [number, number, number], decode: [number, number, number]): StepFit {
  return { shape: 'x', gpu: 'H100', prefill, decode, prefillError: 0, decodeError: 0, points: 1 };
}

/** `n` requests of one qwen2.5-7b function, all at t = 0: their windows are [0, 10 s + output × 100 ms]. */
function burst(n: number, prompt: number, output: number): Workload {
  const key = simulatedWeightsDigest('qwen2_5_7b', 'burst');
  return {
    name: 'burst',
    functions: [{ weightsDigest: key, shape: 'qwen2_5_7b', bytes: 15.23e9, rate: n / 60 }],
    requests: Array.from({ length: n }, () => ({ atMs: 0, weightsDigest: key, prompt, output })),
    durationMs: 60_000,
    slo: defaultSlo(),
    config: {},
  };
}

describe('GPU lower bound', () => {
  it('prices a request at its best batch: its prefill and output − 1 decode shares, or output × prefill when that is less', () => {
    // biome-ignore lint/suspicious/noFocusedTests: fit is this file's step-cost fit, not a focused test
    const f = fit([6, 0.02, 0], [9, 0.07, 2e-5]);
    // prefill 6/3 + 0.02·1000 = 22; decode share 9/3 + 0.07 + 2e-5·1001 = 3.09002; 22 + 100 × 3.09002.
    expect(fullCost(f, 1000, 101, 3)).toBeCloseTo(22 + 100 * 3.09002, 9);
    // A one-token prompt prefills (6.02) for less than a decode share alone (9.07004): 101 × 6.02.
    expect(fullCost(f, 1, 101, 1)).toBeCloseTo(101 * 6.02, 9);
  });

  it('is the work of the busiest interval over its length, less what the target lets go, rounded up', () => {
    const wl = burst(200, 1000, 100);
    const f = costsFor(H100).fits.get('qwen2_5_7b')!;
    const cost = fullCost(f, 1000, 100, 200); // all 200 overlap: one batch
    // The run ends at 60 + 60 s; the grid of 24 has a point at 20 s, where every window ends.
    const full = gpuLowerBound(wl, { gpu: H100, target: 1 });
    expect(full.intervalMs).toEqual([0, 20_000]);
    expect(full.workMs).toBeCloseTo(200 * cost, 6);
    expect(full.gpus).toBe(Math.ceil((200 * cost) / 20_000));
    const ninety = gpuLowerBound(wl, { gpu: H100, target: 0.9 });
    expect(ninety.workMs).toBeCloseTo(180 * cost, 6);
    expect(gpuLowerBound(wl, { gpu: H100, target: 0 }).gpus).toBe(0);
  });

  it('grows with the target', () => {
    const wl = w1({ models: 12, ratePerModel: 1, durationS: 60, seed: 7, sloScale: 0.3 });
    const bounds = [0.5, 0.8, 0.9, 0.99, 1].map((target) => gpuLowerBound(wl, { gpu: H100, target }).workMs);
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    expect(gpuLowerBound(wl, { gpu: H100, target: 1 }).gpus).toBeGreaterThanOrEqual(3);
  });

  it('is never beaten: no run reaches, on fewer GPUs than the bound allows, the attainment it reached', async () => {
    // A heavy workload at 0.3× the SLO, so the bound is more than one GPU and a count below it is tried too.
    const wl = w1({ models: 8, ratePerModel: 1, durationS: 60, seed: 7, sloScale: 0.3 });
    const bound = gpuLowerBound(wl, { gpu: H100, target: 0.9 }).gpus;
    expect(bound).toBeGreaterThanOrEqual(2);
    const policies: PolicyName[] = ['tidepool', 'aegaeon', 'request-level', 'static-colocation'];
    const runs: ClusterResult[] = [];
    for (const policy of policies) {
      for (let gpus = 1; gpus <= bound + 2; gpus++) {
        const r = await simulateCluster({ workload: wl, policy, gpus, gpu: H100 });
        expect(() => checkBound(wl, r, H100)).not.toThrow();
        runs.push(r);
      }
    }
    for (const r of runs.filter((x) => x.gpus < bound)) expect(r.attainment).toBeLessThan(0.9);
    // A made-up result that beats the bound is caught.
    const fake = { ...runs[0]!, gpus: 1, attainment: 1 };
    expect(() => checkBound(wl, fake, H100)).toThrow(/below the lower bound of \d+ GPUs/);
  }, 60_000);

  it('starts the search for the fewest GPUs at the bound, over seeds', async () => {
    const workloads = [1, 2, 3].map((seed) => w1({ models: 6, ratePerModel: 0.4, durationS: 60, seed }));
    const plan = await planCapacity({ workloads, policies: ['tidepool', 'request-level'], gpu: H100 });
    expect(plan.lowerBound.perSeed).toHaveLength(3);
    for (const p of ['tidepool', 'request-level']) {
      expect(plan.minGpus[p]).toBeGreaterThanOrEqual(plan.lowerBound.gpus);
      const at = plan.atMin[p]!;
      expect(at.runs).toHaveLength(3);
      expect(at.meanAttainment).toBeGreaterThanOrEqual(0.9);
      expect(at.minAttainment).toBeGreaterThanOrEqual(0.85);
    }
    expect(plan.points.every((p) => p.gpus >= plan.lowerBound.gpus)).toBe(true);
  }, 60_000);
});
