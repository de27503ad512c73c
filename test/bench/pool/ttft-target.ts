import { simulateCluster } from '../../../runtime/sim/cluster.js';
import type { ClusterResult, ClusterSettings } from '../../../runtime/sim/cluster.js';
import { checkBound, planCapacity } from '../../../runtime/sim/plan.js';
import type { Workload } from '../../../runtime/sim/workloads.js';
import { latencyOf } from './cells.js';
import type { BenchContext, CellResult, LatencyAt } from './cells.js';
import { ms, pct, table } from './report.js';
import type { Spread } from './report.js';

export interface TtftTargetResult {
  readonly ttftTargetMs: number;
  /** tidepool with the target: its fewest GPUs (mean ≥ 90%, no seed < 85%) and each seed's attainment there. */
  readonly minGpus: number | undefined;
  readonly seedAttainment: readonly number[];
  /** At the cell's equal GPU counts: tidepool as it runs by default, with the target, and aegaeon. */
  readonly atGpus: Readonly<Record<number, { readonly tidepool: LatencyAt; readonly tidepoolWithTarget: LatencyAt; readonly aegaeon: LatencyAt }>>;
}

/**
 * tidepool with a TTFT target (`TidepoolOptions.ttftTargetMs`) beside tidepool as it runs by default and
 * aegaeon, on one cell: what the target costs in GPUs and what it buys in TTFT.
 */
export async function runTtftTarget(ctx: BenchContext, cell: CellResult, build: (seed: number) => Workload, ttftTargetMs: number): Promise<TtftTargetResult> {
  const settings: ClusterSettings = { tidepool: { ttftTargetMs } };
  const workloads = ctx.seeds.map(build);
  const plan = await planCapacity({
    workloads,
    policies: ['tidepool'],
    gpu: ctx.gpu,
    settings,
    maxGpus: 2 * workloads[0]!.functions.length,
    onRun: () => void ctx.boundChecks++,
  });
  const atGpus: Record<number, TtftTargetResult['atGpus'][number]> = {};
  for (const gpus of cell.latency.gpuCounts) {
    const known = plan.points.find((p) => p.gpus === gpus)?.runs;
    const runs: ClusterResult[] = known ? [...known] : [];
    for (const wl of known ? [] : workloads) {
      const r = await simulateCluster({ ...settings, workload: wl, policy: 'tidepool', gpus, gpu: ctx.gpu });
      checkBound(wl, r, ctx.gpu);
      ctx.boundChecks++;
      runs.push(r);
    }
    atGpus[gpus] = { tidepool: cell.latency.byPolicy.tidepool![gpus]!, tidepoolWithTarget: latencyOf(runs), aegaeon: cell.latency.byPolicy.aegaeon![gpus]! };
  }
  const minGpus = plan.minGpus.tidepool;
  console.log(
    `\n## ${cell.workload}: tidepool with a ${ttftTargetMs} ms TTFT target: fewest GPUs ${minGpus ?? '-'} (default tidepool ${cell.minGpus.tidepool ?? '-'}, aegaeon ${cell.minGpus.aegaeon ?? '-'}); per seed ${plan.atMin.tidepool!.runs.map((r) => pct(r.attainment)).join(' / ')}`,
  );
  const range = (s: Spread) => `${ms(s.mean)} (${ms(s.min)}–${ms(s.max)})`;
  console.log(
    table(
      ['GPUs', 'setting', 'attainment', 'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99'],
      Object.entries(atGpus).flatMap(([gpus, at]) =>
        (Object.entries(at) as [string, LatencyAt][]).map(([name, l]) => [
          gpus,
          name === 'tidepoolWithTarget' ? `tidepool, TTFT target ${ttftTargetMs} ms` : name,
          pct(l.attainment.mean),
          range(l.ttftP50),
          range(l.ttftP99),
          range(l.tpotP50),
          range(l.tpotP99),
        ]),
      ),
    ),
  );
  return { ttftTargetMs, minGpus, seedAttainment: plan.atMin.tidepool!.runs.map((r) => r.attainment), atGpus };
}
