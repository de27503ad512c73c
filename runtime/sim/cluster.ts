import type { SequenceSink } from '../engine/engine.js';
import { VirtualClock } from '../scheduler/clock.js';
import { createGpuScheduler } from '../scheduler/gpu-scheduler.js';
import type { GpuScheduler } from '../scheduler/gpu-scheduler.js';
import type { PolicyName, SchedulerEvent } from '../scheduler/types.js';
import { calibrationGaps, costsFor, shapeOfKey } from './catalogue.js';
import { RequestTally, summarize } from './metrics.js';
import type { LatencySummary } from './metrics.js';
import { placeFunctions } from './placement.js';
import { createRouter } from './router.js';
import { SimulatedEngine } from './simulated-engine.js';
import { GPUS } from './sim-types.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';
import { samplingWith } from '../../protocol/sampling.js';

export interface ClusterOptions {
  readonly workload: Workload;
  readonly policy: PolicyName;
  readonly gpus: number;
  /** Default H100. */
  readonly gpu?: SimGpuSpec;
  /** Virtual time after the last arrival for work in flight to finish, ms. Default 60 s. */
  readonly drainMs?: number;
  readonly onEvent?: (gpu: number, e: SchedulerEvent) => void;
}

export interface ClusterResult extends LatencySummary {
  readonly policy: PolicyName;
  readonly gpus: number;
  readonly functions: number;
  /** Functions a static placement could not fit anywhere (their requests score 0). */
  readonly unplaced: number;
  /** Sum of engine step time over all GPUs, ms. */
  readonly busyMs: number;
  readonly loads: number;
  readonly switches: number;
  /** Switches that took longer than their estimate plus the scheduler's `switchSlackMs` (event `overrun`). */
  readonly switchOverruns: number;
  /** Wall-clock ms this simulation took. */
  readonly wallMs: number;
}

/**
 * Runs a workload on `gpus` simulated GPUs, each driven by the production GpuScheduler with the named
 * policy, on one virtual clock. Requests reach GPUs through the router (pooled policies) or the placement
 * (static-colocation, dedicated). Deterministic for a given workload.
 */
export async function simulateCluster(o: ClusterOptions): Promise<ClusterResult> {
  const started = performance.now();
  const gpu = o.gpu ?? GPUS.H100!;
  const clock = new VirtualClock();
  const costs = costsFor(gpu);
  const gaps = calibrationGaps(gpu, o.workload.functions.map((f) => f.shape));
  if (gaps.length > 0) throw new Error(`no step-time calibration for ${gaps.join(', ')} on ${gpu.name} (calibrated there: ${[...costs.calibrated].sort().join(', ') || 'none'})`);
  const placement = placeFunctions(o.policy, o.workload.functions, o.gpus, gpu);
  let loads = 0;
  let switches = 0;
  let switchOverruns = 0;
  const engines: SimulatedEngine[] = [];
  const schedulers: GpuScheduler[] = [];
  for (let g = 0; g < o.gpus; g++) {
    const engine = new SimulatedEngine({ clock, gpu, costs, describe: (ref) => shapeOfKey(ref.key), weightsArenaBytes: placement.arenaBytes[g]! });
    engines.push(engine);
    schedulers.push(createGpuScheduler({
      engine, clock, policy: o.policy,
      costs: { h2dBytesPerMs: gpu.h2dBytesPerMs, switchOverheadMs: gpu.loadOverheadMs },
      onEvent: (e) => {
        if (e.type === 'load' && !e.cached) loads++;
        if (e.type === 'switch') {
          switches++;
          if (e.overrun) switchOverruns++;
        }
        o.onEvent?.(g, e);
      },
    }));
  }
  const router = createRouter(o.gpus, o.workload.functions, placement.gpusOf);
  const tallies: RequestTally[] = [];
  let nextId = 1;
  const arrivals = (async () => {
    for (const r of o.workload.requests) {
      if (r.atMs > clock.now()) await clock.sleep(r.atMs - clock.now());
      const tally = new RequestTally(clock.now(), r.output, o.workload.slo);
      tallies.push(tally);
      const target = router.pick(r.key, r.output);
      if (target === undefined) continue; // not placed anywhere: every token missed
      const sink: SequenceSink = {
        onToken: () => {
          tally.token(clock.now());
          router.progress(target, 1);
        },
        onDone: () => {
          tally.done = true;
          router.finished(target, r.key, r.output - tally.tokens);
        },
      };
      const ref = { key: r.key, dir: `/sim/${r.key}`, bytes: shapeOfKey(r.key).weightBytes };
      schedulers[target]!.submit({
        id: nextId++, functionName: r.key, model: ref, promptTokens: syntheticPrompt(r.prompt), sampling: samplingWith({ max_tokens: r.output, seed: nextId }), stopTokenIds: [], slo: o.workload.slo,
      }, sink);
    }
  })();
  await clock.run(o.workload.durationMs + (o.drainMs ?? 60_000));
  await Promise.race([arrivals, Promise.resolve()]);
  const placed = placement.gpusOf;
  return {
    ...summarize(tallies),
    policy: o.policy, gpus: o.gpus, functions: o.workload.functions.length,
    unplaced: placed ? o.workload.functions.filter((f) => placed(f.key).length === 0).length : 0,
    busyMs: engines.reduce((s, e) => s + e.busyMs, 0),
    loads, switches, switchOverruns,
    wallMs: performance.now() - started,
  };
}

const promptCache = new Map<number, number[]>();

/** Token ids only matter for their count in the simulator; share one array per length. */
function syntheticPrompt(length: number): number[] {
  let p = promptCache.get(length);
  if (!p) {
    p = Array<number>(length).fill(1);
    promptCache.set(length, p);
  }
  return p;
}
