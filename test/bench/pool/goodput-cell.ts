import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyName } from '../../../runtime/scheduler/types.js';
import type { ClusterResult, ClusterSettings } from '../../../runtime/sim/cluster.js';
import { goodput } from '../../../runtime/sim/plan.js';
import type { GoodputResult } from '../../../runtime/sim/plan.js';
import { attainmentVsRateSvg, goodputSvg } from '../../../runtime/sim/plan-charts.js';
import type { Workload } from '../../../runtime/sim/workloads.js';
import type { BenchContext } from './cells.js';
import { meanSpread, pct, table } from './report.js';
import type { Spread } from './report.js';

export interface GoodputCell {
  readonly gpus: number;
  readonly rates: readonly number[];
  readonly refineSteps: number;
  readonly seeds: readonly number[];
  /** Per policy: each seed's search (rate reached, first miss, every run), in seed order. */
  readonly perSeed: Readonly<Record<string, readonly GoodputResult[]>>;
  /** Per policy: the goodput (highest rate at ≥ 90%) over the seeds; a seed where even the lowest rate missed counts 0. */
  readonly rate: Readonly<Record<string, Spread>>;
  /** tidepool's goodput over each other policy's: mean over mean, and the least and largest per-seed ratio. */
  readonly tidepoolOver: Readonly<Record<string, Spread>>;
}

/**
 * Goodput on a fixed GPU count, per seed: the highest rate (the caller's unit) at which a policy's
 * attainment reaches 90%, found by walking the grid up to the first miss and bisecting. Reported as the mean
 * over seeds with its spread; charts from the first seed.
 */
export async function runGoodput(
  ctx: BenchContext,
  label: string,
  gpus: number,
  policies: readonly PolicyName[],
  workloadAt: (rate: number, seed: number) => Workload,
  rates: readonly number[],
  refineSteps: number,
  xLabel: string,
  metric?: (r: ClusterResult) => number,
  settings?: ClusterSettings,
): Promise<GoodputCell> {
  console.log(`\n## goodput: ${label}, ${gpus} GPUs fixed, highest rate with ≥ 90% attainment, per seed (${ctx.seeds.join(', ')})`);
  console.log(
    `grid ${rates.join(', ')}, then ${refineSteps} bisection steps between each policy's last pass and first miss (from 0 when the lowest rate misses)`,
  );
  const perSeed: Record<string, GoodputResult[]> = Object.fromEntries(policies.map((p) => [p, []]));
  for (const seed of ctx.seeds) {
    const gp = await goodput({
      policies,
      gpus,
      rates,
      refineSteps,
      gpu: ctx.gpu,
      workloadAt: (rate) => workloadAt(rate, seed),
      ...(metric ? { metric } : {}),
      ...(settings ? { settings } : {}),
      onRun: () => void ctx.boundChecks++,
    });
    for (const p of policies) perSeed[p]!.push(gp[p]!);
  }
  const rateOf = (g: GoodputResult) => g.rate ?? 0;
  const rate = Object.fromEntries(policies.map((p) => [p, meanSpread(perSeed[p]!.map(rateOf))]));
  const ours = perSeed.tidepool;
  const tidepoolOver: Record<string, Spread> = {};
  for (const p of policies.filter((x) => x !== 'tidepool')) {
    if (!ours) break;
    const perSeedRatio = ours.map((g, i) => rateOf(g) / rateOf(perSeed[p]![i]!));
    tidepoolOver[p] = { mean: rate.tidepool!.mean / rate[p]!.mean, min: Math.min(...perSeedRatio), max: Math.max(...perSeedRatio) };
  }
  const r4 = (v: number) => String(Number(v.toFixed(5)));
  console.log(
    table(
      [
        'policy',
        'goodput mean (min–max)',
        'per seed (first miss)',
        'tidepool ÷ this, mean (per-seed min–max)',
        'seed 1 runs (rate: attainment, req/s meeting the SLO of offered)',
      ],
      policies.map((p) => [
        p,
        `${r4(rate[p]!.mean)} (${r4(rate[p]!.min)}–${r4(rate[p]!.max)})`,
        perSeed[p]!.map((g) => `${g.rate === undefined ? `< ${r4(g.missed!)}` : r4(g.rate)} (${g.missed === undefined ? 'none' : r4(g.missed)})`).join(', '),
        tidepoolOver[p] ? `${tidepoolOver[p]!.mean.toFixed(2)}× (${tidepoolOver[p]!.min.toFixed(2)}–${tidepoolOver[p]!.max.toFixed(2)}×)` : '-',
        perSeed[p]![0]!.runs.map((r) => `${r4(r.rate)}: ${pct(r.attainment)}, ${r.goodputReqPerS.toFixed(2)}/${r.offeredReqPerS.toFixed(2)}`).join('; '),
      ]),
    ),
  );
  const where = `on ${gpus} GPUs (simulated ${ctx.gpu.name}, seed ${ctx.seeds[0]})`;
  const first = Object.fromEntries(policies.map((p) => [p, perSeed[p]![0]!]));
  const file = (name: string) => join(ctx.outDir, `pool-${ctx.size}-${name}.svg`);
  writeFileSync(file(`${label}-goodput`.replace(/[^A-Za-z0-9.]+/g, '-')), goodputSvg(first, `${label} goodput vs offered load ${where}`, 0.9, xLabel));
  writeFileSync(
    file(`${label}-attainment-vs-rate`.replace(/[^A-Za-z0-9.]+/g, '-')),
    attainmentVsRateSvg(first, `${label} attainment vs offered load ${where}`, 0.9, xLabel),
  );
  return { gpus, rates, refineSteps, seeds: ctx.seeds, perSeed, rate, tidepoolOver };
}
