import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyName } from '../../../runtime/scheduler/types.js';
import { simulateCluster } from '../../../runtime/sim/cluster.js';
import type { ClusterResult } from '../../../runtime/sim/cluster.js';
import { checkBound, planCapacity } from '../../../runtime/sim/plan.js';
import type { SeedRuns } from '../../../runtime/sim/plan.js';
import { attainmentVsGpusSvg, latencyVsGpusSvg } from '../../../runtime/sim/plan-charts.js';
import type { LatencyPoint } from '../../../runtime/sim/plan-charts.js';
import type { SimGpuSpec } from '../../../runtime/sim/sim-types.js';
import type { Slo } from '../../../protocol/slo.js';
import type { Workload } from '../../../runtime/sim/workloads.js';
import { meanSpread, ms, pct, slim, table } from './report.js';
import type { Spread } from './report.js';

/** What every part of the pool benchmark shares. */
export interface BenchContext {
  readonly gpu: SimGpuSpec;
  readonly outDir: string;
  readonly size: 'tiny' | 'full';
  readonly seeds: readonly number[];
  readonly policies: readonly PolicyName[];
  /** Runs checked against the lower bound so far (every run the benchmark makes is). */
  boundChecks: number;
}

/** Latency and attainment of one policy at one GPU count, over the seeds. */
export interface LatencyAt {
  readonly attainment: Spread;
  readonly ttftP50: Spread;
  readonly ttftP99: Spread;
  readonly tpotP50: Spread;
  readonly tpotP99: Spread;
}

export interface CellResult {
  readonly workload: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly functions: number;
  /** Requests per seed. */
  readonly requests: readonly number[];
  readonly minGpus: Readonly<Record<string, number | undefined>>;
  readonly lowerBound: { readonly gpus: number; readonly perSeed: readonly number[] };
  /** Per policy, at its fewest GPUs: every seed's attainment, in seed order. */
  readonly seedAttainment: Readonly<Record<string, readonly number[]>>;
  readonly atMin: Readonly<Record<string, unknown>>;
  readonly points: readonly SeedRuns[];
  /** TTFT and TPOT per policy at the GPU counts where tidepool and aegaeon first meet the target. */
  readonly latency: { readonly gpuCounts: readonly number[]; readonly byPolicy: Readonly<Record<string, Readonly<Record<number, LatencyAt>>>> };
}

/**
 * One cell of the benchmark: a workload (drawn with every seed) at one SLO. The fewest GPUs per policy, the
 * lower bound, the seeds' attainment at each minimum, and latency at equal GPU counts; a table and charts.
 */
export async function runCell(ctx: BenchContext, name: string, build: (seed: number) => Workload): Promise<CellResult> {
  const workloads = ctx.seeds.map(build);
  const wl = workloads[0]!;
  console.log(
    `\n## ${name}: ${wl.functions.length} functions, ${workloads.map((w) => w.requests.length).join(' / ')} requests (seeds ${ctx.seeds.join(', ')}) over ${wl.durationMs / 1000}s, SLO TTFT ${wl.slo.ttftMs}ms / TPOT ${wl.slo.tpotMs}ms`,
  );
  console.log(`config: ${JSON.stringify(wl.config)}`);
  const plan = await planCapacity({
    workloads,
    policies: ctx.policies,
    gpu: ctx.gpu,
    maxGpus: 2 * wl.functions.length,
    onRun: () => void ctx.boundChecks++,
  });
  const latency = await latencyAtEqualGpus(ctx, workloads, plan.points, plan.minGpus);
  printCell(ctx, plan, wl, latency);
  writeCharts(ctx, name, wl.slo, plan.points, latency);
  return {
    workload: name,
    config: wl.config,
    functions: wl.functions.length,
    requests: workloads.map((w) => w.requests.length),
    minGpus: plan.minGpus,
    lowerBound: plan.lowerBound,
    seedAttainment: Object.fromEntries(Object.entries(plan.atMin).map(([p, s]) => [p, s.runs.map((r) => r.attainment)])),
    atMin: Object.fromEntries(
      Object.entries(plan.atMin).map(([p, s]) => [
        p,
        { gpus: s.gpus, meanAttainment: s.meanAttainment, minAttainment: s.minAttainment, runs: s.runs.map(slim) },
      ]),
    ),
    points: plan.points,
    latency,
  };
}

async function latencyAtEqualGpus(
  ctx: BenchContext,
  workloads: readonly Workload[],
  points: readonly SeedRuns[],
  minGpus: Readonly<Record<string, number | undefined>>,
): Promise<CellResult['latency']> {
  const gpuCounts = [...new Set([minGpus.tidepool, minGpus.aegaeon].filter((g): g is number => g !== undefined))].sort((a, b) => a - b);
  const byPolicy: Record<string, Record<number, LatencyAt>> = {};
  for (const policy of ctx.policies.filter((p) => p !== 'dedicated')) {
    byPolicy[policy] = {};
    for (const gpus of gpuCounts) {
      const known = points.find((p) => p.policy === policy && p.gpus === gpus)?.runs;
      const runs: ClusterResult[] = known ? [...known] : [];
      for (const wl of known ? [] : workloads) {
        const r = await simulateCluster({ workload: wl, policy, gpus, gpu: ctx.gpu });
        checkBound(wl, r, ctx.gpu);
        ctx.boundChecks++;
        runs.push(r);
      }
      byPolicy[policy]![gpus] = latencyOf(runs);
    }
  }
  return { gpuCounts, byPolicy };
}

export function latencyOf(runs: readonly ClusterResult[]): LatencyAt {
  const of = (f: (r: ClusterResult) => number) => meanSpread(runs.map(f));
  return {
    attainment: of((r) => r.attainment),
    ttftP50: of((r) => r.ttftP50),
    ttftP99: of((r) => r.ttftP99),
    tpotP50: of((r) => r.tpotP50),
    tpotP99: of((r) => r.tpotP99),
  };
}

function printCell(ctx: BenchContext, plan: Awaited<ReturnType<typeof planCapacity>>, wl: Workload, latency: CellResult['latency']): void {
  const ours = plan.minGpus.tidepool;
  const rows = ctx.policies.map((p) => {
    const g = plan.minGpus[p];
    const s = plan.atMin[p]!;
    const l = latencyOf(s.runs);
    const sw = s.runs[0]!;
    return [
      p,
      g === undefined ? `>${s.gpus}` : String(g),
      g === undefined ? '-' : (wl.functions.length / g).toFixed(1),
      s.runs.map((r) => pct(r.attainment)).join(' / '),
      pct(s.meanAttainment),
      ms(l.ttftP50.mean),
      ms(l.ttftP99.mean),
      ms(l.tpotP50.mean),
      ms(l.tpotP99.mean),
      `${sw.switches} (${sw.switchOverruns} over)`,
      g !== undefined && ours !== undefined ? `${(g / ours).toFixed(2)}×` : '-',
    ];
  });
  console.log(
    table(
      [
        'policy',
        'min GPUs',
        'models/GPU',
        `attainment per seed`,
        'mean',
        'TTFT p50',
        'TTFT p99',
        'TPOT p50',
        'TPOT p99',
        'switches, seed 1 (over estimate + slack)',
        'GPUs vs tidepool',
      ],
      rows,
    ),
  );
  console.log(`target: mean over seeds ≥ ${pct(plan.target)} and every seed ≥ ${pct(plan.seedFloor)}; latency: mean over seeds at the minimum`);
  const bound = plan.lowerBound;
  console.log(
    `lower bound: ${bound.gpus} GPUs (per seed at the target: ${bound.perSeed.join(', ')}); tidepool ${ours ?? '-'} = ${ours ? (ours / bound.gpus).toFixed(2) : '-'}× the bound (bar on W2: ≤ 1.3×)`,
  );
  const ded = plan.minGpus.dedicated;
  if (ours !== undefined && ded !== undefined) console.log(`tidepool uses ${pct(1 - ours / ded)} fewer GPUs than dedicated (bar on W2: ≥ 85%)`);
  for (const gpus of latency.gpuCounts) {
    console.log(`\nat ${gpus} GPUs (mean over seeds; min–max):`);
    console.log(
      table(
        ['policy', 'attainment', 'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99'],
        Object.entries(latency.byPolicy).map(([p, at]) => {
          const l = at[gpus]!;
          const range = (s: Spread) => `${ms(s.mean)} (${ms(s.min)}–${ms(s.max)})`;
          return [
            p,
            `${pct(l.attainment.mean)} (${pct(l.attainment.min)}–${pct(l.attainment.max)})`,
            range(l.ttftP50),
            range(l.ttftP99),
            range(l.tpotP50),
            range(l.tpotP99),
          ];
        }),
      ),
    );
  }
}

function writeCharts(ctx: BenchContext, name: string, slo: Slo, points: readonly SeedRuns[], latency: CellResult['latency']): void {
  const file = (suffix: string) => join(ctx.outDir, `pool-${ctx.size}-${name.replace(/[^A-Za-z0-9.]+/g, '-')}${suffix}.svg`);
  const where = `(simulated ${ctx.gpu.name}, mean over seeds)`;
  writeFileSync(
    file(''),
    attainmentVsGpusSvg(
      points.map((p) => ({ policy: p.policy, gpus: p.gpus, attainment: p.meanAttainment })),
      ctx.policies,
      `${name}: SLO attainment vs GPUs ${where}`,
      0.9,
    ),
  );
  const shared = ctx.policies.filter((p) => p !== 'dedicated');
  const series = (p50: (l: LatencyAt) => Spread, p99: (l: LatencyAt) => Spread) => {
    const out: LatencyPoint[] = points
      .filter((p) => p.policy !== 'dedicated')
      .map((p) => {
        const l = latencyOf(p.runs);
        return { policy: p.policy, gpus: p.gpus, p50: p50(l).mean, p99: p99(l).mean };
      });
    for (const [policy, at] of Object.entries(latency.byPolicy)) {
      for (const [gpus, l] of Object.entries(at)) {
        if (!out.some((x) => x.policy === policy && x.gpus === Number(gpus))) out.push({ policy, gpus: Number(gpus), p50: p50(l).mean, p99: p99(l).mean });
      }
    }
    return out;
  };
  writeFileSync(
    file('-ttft'),
    latencyVsGpusSvg(
      series(
        (l) => l.ttftP50,
        (l) => l.ttftP99,
      ),
      shared,
      `${name}: time to first token vs GPUs ${where}`,
      'TTFT (s)',
      1000,
      3 * slo.ttftMs,
    ),
  );
  writeFileSync(
    file('-tpot'),
    latencyVsGpusSvg(
      series(
        (l) => l.tpotP50,
        (l) => l.tpotP99,
      ),
      shared,
      `${name}: time per output token vs GPUs ${where}`,
      'TPOT, mean per request (ms)',
      1,
      20 * slo.tpotMs,
    ),
  );
}
