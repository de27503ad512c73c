import { VirtualClock } from '../scheduler/clock.js';
import { createGpuScheduler } from '../scheduler/gpu-scheduler.js';
import { createTidepoolPolicy } from '../scheduler/policies/tidepool.js';
import type { GpuScheduler } from '../scheduler/gpu-scheduler.js';
import { calibrationGaps, costsFor, shapeOfKey } from './catalogue.js';
import { DEFAULT_DRAIN_MS, EventCounts } from './cluster-types.js';
import type { ClusterOptions, ClusterResult } from './cluster-types.js';
import { RequestTally, summarize } from './metrics.js';
import { placeFunctions } from './placement.js';
import { simulateDisaggregated } from './disaggregated-cluster.js';
import { createRouter } from './router.js';
import { simGeneration } from './sim-request.js';
import { SimulatedEngine } from './simulated-engine.js';
import { GPUS } from './sim-types.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';
import { owingSink } from '../owed-tokens.js';

export type { ClusterOptions, ClusterResult, ClusterSettings } from './cluster-types.js';

/**
 * Runs a workload on `gpus` simulated GPUs, each driven by the production GpuScheduler with the named
 * policy, on one virtual clock. Requests reach GPUs through the router (pooled policies: the node's device
 * router) or the placement (static-colocation, dedicated). `aegaeon` splits the GPUs into prefill and decode
 * instances instead (disaggregated-cluster.ts). Deterministic for a given workload.
 */
export async function simulateCluster(o: ClusterOptions): Promise<ClusterResult> {
  const gpu = o.gpu ?? GPUS.H100!;
  checkCalibration(o.workload, gpu);
  if (o.policy === 'aegaeon') return simulateDisaggregated({ ...o, gpu });
  const started = performance.now();
  const clock = new VirtualClock();
  const costs = costsFor(gpu);
  const placement = placeFunctions(o.policy, o.workload.functions, o.gpus, gpu);
  const router = createRouter(o.gpus, o.workload.functions, placement.gpusOf, o.routing);
  const counts = new EventCounts();
  const engines: SimulatedEngine[] = [];
  const schedulers: GpuScheduler[] = [];
  for (let g = 0; g < o.gpus; g++) {
    const engine = new SimulatedEngine({ clock, gpu, costs, describe: (ref) => shapeOfKey(ref.weightsDigest), weightsArenaBytes: placement.arenaBytes[g]! });
    engines.push(engine);
    schedulers.push(
      createGpuScheduler({
        engine,
        clock,
        policy: o.policy === 'tidepool' && o.tidepool ? createTidepoolPolicy(o.tidepool) : o.policy,
        costs: { h2dBytesPerMs: gpu.h2dBytesPerMs, switchOverheadMs: gpu.loadOverheadMs },
        onEvent: (e) => {
          counts.count(e);
          if (e.type === 'load') router.noteResidency(g, e.weightsDigest, true);
          if (e.type === 'evict') router.noteResidency(g, e.weightsDigest, false);
          o.onEvent?.(g, e);
        },
      }),
    );
  }
  const tallies: RequestTally[] = [];
  let nextId = 1;
  const arrivals = (async () => {
    for (const r of o.workload.requests) {
      if (r.atMs > clock.now()) await clock.sleep(r.atMs - clock.now());
      const tally = new RequestTally(clock.now(), r.output, o.workload.slo);
      tallies.push(tally);
      const target = router.pick(r.weightsDigest, r.output);
      if (target === undefined) continue; // not placed anywhere: every token missed
      const sink = owingSink(router, target, r.weightsDigest, r.output, {
        onToken: () => tally.token(clock.now()),
        onDone: () => {
          tally.done = true;
        },
      });
      schedulers[target]!.submit(simGeneration(nextId++, r.weightsDigest, r.prompt, r.output, o.workload.slo), sink);
    }
  })();
  await clock.run(o.workload.durationMs + (o.drainMs ?? DEFAULT_DRAIN_MS));
  await Promise.race([arrivals, Promise.resolve()]);
  const placed = placement.gpusOf;
  return {
    ...summarize(tallies),
    policy: o.policy,
    gpus: o.gpus,
    functions: o.workload.functions.length,
    unplaced: placed ? o.workload.functions.filter((f) => placed(f.weightsDigest).length === 0).length : 0,
    busyMs: engines.reduce((s, e) => s + e.busyMs, 0),
    ...counts.totals(),
    wallMs: performance.now() - started,
  };
}

function checkCalibration(workload: Workload, gpu: SimGpuSpec): void {
  const gaps = calibrationGaps(
    gpu,
    workload.functions.map((f) => f.shape),
  );
  if (gaps.length === 0) return;
  const calibrated = [...costsFor(gpu).calibrated].sort().join(', ') || 'none';
  throw new Error(`no step-time calibration for ${gaps.join(', ')} on ${gpu.name} (calibrated there: ${calibrated})`);
}
