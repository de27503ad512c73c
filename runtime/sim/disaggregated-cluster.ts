import type { WeightsDigest } from '../../protocol/weights-digest.js';
import { chooseRoute } from '../../protocol/routing/route.js';
import type { SequenceSink } from '../engine/engine.js';
import { aegaeonSwitchEstimateMs } from '../scheduler/aegaeon-quota.js';
import { VirtualClock } from '../scheduler/clock.js';
import { createGpuScheduler } from '../scheduler/gpu-scheduler.js';
import type { GpuScheduler } from '../scheduler/gpu-scheduler.js';
import { createAegaeonDecodePolicy } from '../scheduler/policies/aegaeon-decode.js';
import { createAegaeonPrefillPolicy } from '../scheduler/policies/aegaeon-prefill.js';
import type { AegaeonPrefillPolicy } from '../scheduler/policies/aegaeon-prefill.js';
import type { SchedulerPolicy } from '../scheduler/policy.js';
import { costsFor, shapeOfKey } from './catalogue.js';
import { DEFAULT_DRAIN_MS, EventCounts } from './cluster-types.js';
import type { ClusterOptions, ClusterResult } from './cluster-types.js';
import { RequestTally, summarize } from './metrics.js';
import { MAX_ARENA_SHARE } from './placement.js';
import { simGeneration } from './sim-request.js';
import { SimulatedEngine } from './simulated-engine.js';
import type { SimGpuSpec } from './sim-types.js';

/** Prefill and decode instances per node in the artifact's e2e benchmark (`benchmark/benchmark_e2e.py`). */
export const AEGAEON_SPLIT = Object.freeze({ prefill: 3, decode: 5 });

/**
 * PCIe bandwidth per device type in the artifact's switch estimate, GiB/s (`aegaeon/utils.py`,
 * `DeviceType.pcie_bandwidth_in_bytes`): the estimate takes 15% of it. The simulator's own copies run at its
 * calibrated H2D bandwidth (`SimGpuSpec.h2dBytesPerMs`); a GPU type the artifact does not list falls back to it.
 */
export const ARTIFACT_PCIE_GIB_PER_S: Readonly<Record<string, number>> = Object.freeze({ A10: 32, A100: 32, H800: 64, H20: 32, H100: 32 });

export function artifactPcieBytesPerMs(gpu: SimGpuSpec): number {
  const gib = ARTIFACT_PCIE_GIB_PER_S[gpu.name];
  return gib === undefined ? gpu.h2dBytesPerMs : (gib * 2 ** 30) / 1000;
}

/** Instances for `gpus` GPUs at the split's ratio (3:5 per 8), at least one of each; undefined below 2 GPUs. */
export function splitInstances(gpus: number, split: { prefill: number; decode: number } = AEGAEON_SPLIT): { prefill: number; decode: number } | undefined {
  if (gpus < 2) return undefined;
  const prefill = Math.min(gpus - 1, Math.max(1, Math.round((gpus * split.prefill) / (split.prefill + split.decode))));
  return { prefill, decode: gpus - prefill };
}

interface Instance {
  readonly engine: SimulatedEngine;
  readonly scheduler: GpuScheduler;
}

interface Instances {
  readonly prefill: readonly Instance[];
  readonly prefillPolicies: readonly AegaeonPrefillPolicy[];
  readonly decode: readonly Instance[];
}

/**
 * The published Aegaeon on simulated GPUs: `gpus` split into prefill and decode instances, each one GPU
 * driven by the production scheduler loop with the artifact's instance policy (aegaeon-prefill.ts,
 * aegaeon-decode.ts). A request goes to a prefill instance (the artifact's `fcfs-avgload` dispatcher: one with
 * an open group of its model, else the one with the fewest waiting requests), whose prefill produces its first
 * token. Its KV then moves to host memory on that GPU's copy stream, and the request goes to a decode instance
 * (the artifact's decode dispatcher: the one that has a batch of its model, else the one with the fewest
 * batches), which copies the KV in when the request joins its batch. Every copy is priced at the simulated
 * GPU's H2D bandwidth. All instances form one pool (the artifact's benchmark splits models across 8-GPU
 * nodes by model number; here every instance serves every model). Fewer than 2 GPUs cannot be split: every
 * request is missed.
 */
export async function simulateDisaggregated(o: ClusterOptions & { readonly gpu: SimGpuSpec }): Promise<ClusterResult> {
  const started = performance.now();
  const split = splitInstances(o.gpus);
  const base = { policy: o.policy, gpus: o.gpus, functions: o.workload.functions.length };
  if (!split) {
    const missed = o.workload.requests.map((r) => new RequestTally(r.atMs, r.output, o.workload.slo));
    return { ...summarize(missed), ...base, unplaced: base.functions, busyMs: 0, loads: 0, switches: 0, switchOverruns: 0, wallMs: 0 };
  }
  const clock = new VirtualClock();
  const counts = new EventCounts();
  const instances = buildInstances(o, split, clock, counts);
  const tallies: RequestTally[] = [];
  const arrivals = replay(o, clock, instances, tallies);
  await clock.run(o.workload.durationMs + (o.drainMs ?? DEFAULT_DRAIN_MS));
  await Promise.race([arrivals, Promise.resolve()]);
  const engines = [...instances.prefill, ...instances.decode].map((i) => i.engine);
  return {
    ...summarize(tallies),
    ...base,
    unplaced: 0,
    busyMs: engines.reduce((s, e) => s + e.busyMs, 0),
    ...counts.totals(),
    wallMs: performance.now() - started,
    instances: split,
  };
}

/** Prefill instances on GPUs 0..P−1, decode instances after them; every instance has two weight slots. */
function buildInstances(
  o: ClusterOptions & { readonly gpu: SimGpuSpec },
  split: { prefill: number; decode: number },
  clock: VirtualClock,
  counts: EventCounts,
): Instances {
  const gpu = o.gpu;
  const costs = costsFor(gpu);
  const arena = Math.min(2 * Math.max(...o.workload.functions.map((f) => f.bytes)), gpu.memoryBytes * MAX_ARENA_SHARE);
  const instance = (index: number, policy: SchedulerPolicy, decode: boolean): Instance => {
    const engine = new SimulatedEngine({
      clock,
      gpu,
      costs,
      describe: (ref) => shapeOfKey(ref.weightsDigest),
      weightsArenaBytes: arena,
      prefilledElsewhere: decode,
    });
    const scheduler = createGpuScheduler({
      engine,
      clock,
      policy,
      costs: { h2dBytesPerMs: gpu.h2dBytesPerMs, switchOverheadMs: gpu.loadOverheadMs },
      onEvent: (e) => {
        counts.count(e);
        o.onEvent?.(index, e);
      },
    });
    return { engine, scheduler };
  };
  const prefillPolicies = Array.from({ length: split.prefill }, () => createAegaeonPrefillPolicy());
  const pcie = artifactPcieBytesPerMs(gpu);
  const decodePolicy = () =>
    createAegaeonDecodePolicy({
      stepEstimateMs: (key, batch, context) => costs.decodeMs(shapeOfKey(key).shape, batch, context),
      switchEstimateMs: (_key, bytes) => aegaeonSwitchEstimateMs(bytes, pcie),
    });
  return {
    prefill: prefillPolicies.map((policy, i) => instance(i, policy, false)),
    prefillPolicies,
    decode: Array.from({ length: split.decode }, (_, i) => instance(split.prefill + i, decodePolicy(), true)),
  };
}

/** Feeds the workload's arrivals to the prefill dispatcher and hands each prefilled request to a decode instance. */
async function replay(o: ClusterOptions, clock: VirtualClock, cluster: Instances, tallies: RequestTally[]): Promise<void> {
  /** Per decode instance: live requests per model (the artifact's decode batches). */
  const batches = cluster.decode.map(() => new Map<string, number>());
  let nextId = 1;
  const decodeOn = (d: number, key: WeightsDigest, prompt: number, output: number, tally: RequestTally) => {
    batches[d]!.set(key, (batches[d]!.get(key) ?? 0) + 1);
    const sink: SequenceSink = {
      onToken: () => tally.token(clock.now()),
      onDone: () => {
        tally.done = true;
        const left = batches[d]!.get(key)! - 1;
        if (left > 0) batches[d]!.set(key, left);
        else batches[d]!.delete(key);
      },
    };
    // The prefill's first token is in the prompt handed over: its KV is the prompt's plus that token's.
    cluster.decode[d]!.scheduler.submit(simGeneration(nextId++, key, prompt + 1, output - 1, o.workload.slo), sink);
  };
  const handOver = async (p: number, key: WeightsDigest, prompt: number, output: number, tally: RequestTally) => {
    await cluster.prefill[p]!.engine.copyToHost((prompt + 1) * shapeOfKey(key).kvBytesPerToken);
    const d = chooseRoute(
      batches.map((b) => ({ tier: b.has(key) ? 0 : 1, load: b.size })),
      { kind: 'none' },
    )!.index;
    decodeOn(d, key, prompt, output, tally);
  };
  for (const r of o.workload.requests) {
    if (r.atMs > clock.now()) await clock.sleep(r.atMs - clock.now());
    const tally = new RequestTally(clock.now(), r.output, o.workload.slo);
    tallies.push(tally);
    const p = chooseRoute(
      cluster.prefillPolicies.map((q) => ({ tier: q.hasOpenGroup(r.weightsDigest) ? 0 : 1, load: q.waiting() })),
      { kind: 'none' },
    )!.index;
    const id = nextId++;
    const sink: SequenceSink = {
      onToken: () => tally.token(clock.now()),
      onDone: (reason) => {
        if (reason === 'length' && r.output > 1) void handOver(p, r.weightsDigest, r.prompt, r.output, tally);
        else tally.done = true;
      },
    };
    cluster.prefillPolicies[p]!.enqueue(id, r.weightsDigest);
    cluster.prefill[p]!.scheduler.submit(simGeneration(id, r.weightsDigest, r.prompt, 1, o.workload.slo), sink);
  }
}
