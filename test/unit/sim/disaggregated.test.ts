import { simulatedWeightsDigest } from '../../../protocol/weights-digest.js';
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../../runtime/scheduler/types.js';
import { shapeOfKey } from '../../../runtime/sim/catalogue.js';
import { simulateCluster } from '../../../runtime/sim/cluster.js';
import { artifactPcieBytesPerMs, splitInstances } from '../../../runtime/sim/disaggregated-cluster.js';
import { GPUS } from '../../../runtime/sim/sim-types.js';
import { defaultSlo, w1 } from '../../../runtime/sim/workloads.js';
import type { Workload } from '../../../runtime/sim/workloads.js';

const H100 = GPUS.H100!;

describe('aegaeon on disaggregated instances', () => {
  it('splits GPUs 3:5 into prefill and decode instances, at least one of each', () => {
    expect([8, 16, 2, 3, 5, 12].map((g) => splitInstances(g))).toEqual([
      { prefill: 3, decode: 5 },
      { prefill: 6, decode: 10 },
      { prefill: 1, decode: 1 },
      { prefill: 1, decode: 2 },
      { prefill: 2, decode: 3 },
      { prefill: 5, decode: 7 },
    ]);
    expect(splitInstances(1)).toBeUndefined();
    // The artifact's switch estimate takes its own PCIe figure for the device: 32 GiB/s on an H100.
    expect(artifactPcieBytesPerMs(H100)).toBe((32 * 2 ** 30) / 1000);
  });

  it('prefills on a prefill instance and decodes on a decode instance, the KV copied out and in between', async () => {
    const key = simulatedWeightsDigest('llama2_13b_chat', 'only');
    const wl: Workload = {
      name: 'one',
      functions: [{ weightsDigest: key, shape: 'llama2_13b_chat', bytes: shapeOfKey(key).weightBytes, rate: 1 / 60 }],
      requests: [{ atMs: 1000, weightsDigest: key, prompt: 2000, output: 40 }],
      durationMs: 60_000,
      slo: defaultSlo(),
      config: {},
    };
    const turns: { gpu: number; e: Extract<SchedulerEvent, { type: 'turn' }> }[] = [];
    const r = await simulateCluster({
      workload: wl,
      policy: 'aegaeon',
      gpus: 8,
      gpu: H100,
      onEvent: (gpu, e) => void (e.type === 'turn' && e.steps > 0 && turns.push({ gpu, e })),
    });
    expect(r.instances).toEqual({ prefill: 3, decode: 5 });
    expect([r.requests, r.finished, r.attainment]).toEqual([1, 1, 1]);
    // One prefill turn (one step) on a prefill instance (GPUs 0–2), every decode step on one decode instance.
    const prefill = turns.filter((t) => t.gpu < 3);
    expect(prefill.map((t) => t.e.steps)).toEqual([1]);
    const decode = turns.filter((t) => t.gpu >= 3);
    expect(new Set(decode.map((t) => t.gpu)).size).toBe(1);
    expect(decode.reduce((n, t) => n + t.e.steps, 0)).toBe(39);
    // Between the first token (end of the prefill turn) and the first decode turn's end: the prompt's KV out of
    // the prefill GPU and into the decode GPU, each 2001 tokens × 819 KB at 50 GB/s, beside the weights' load.
    const kvMs = (2001 * shapeOfKey(key).kvBytesPerToken) / H100.h2dBytesPerMs;
    const firstDecodeStart = decode[0]!.e.atMs - decode[0]!.e.ms;
    expect(firstDecodeStart - prefill[0]!.e.atMs).toBeGreaterThanOrEqual(kvMs - 1e-6);
  });

  it('serves a light W1 load on 8 GPUs, deterministically, and cannot run on one GPU', async () => {
    const wl = w1({ models: 8, ratePerModel: 0.05, durationS: 60, seed: 3 });
    const a = await simulateCluster({ workload: wl, policy: 'aegaeon', gpus: 8, gpu: H100 });
    const b = await simulateCluster({ workload: w1({ models: 8, ratePerModel: 0.05, durationS: 60, seed: 3 }), policy: 'aegaeon', gpus: 8, gpu: H100 });
    const { wallMs: _a, ...ra } = a;
    const { wallMs: _b, ...rb } = b;
    expect(ra).toEqual(rb);
    expect(a.finished).toBe(a.requests);
    expect(a.attainment).toBeGreaterThan(0.95);
    const one = await simulateCluster({ workload: wl, policy: 'aegaeon', gpus: 1, gpu: H100 });
    expect([one.attainment, one.unplaced]).toEqual([0, wl.functions.length]);
  });
});
