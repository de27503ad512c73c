// Pool benchmark (BENCHMARKS.md §1): GPUs needed for a market of models, per policy, on the simulator.
// Runs the production GpuScheduler on simulated engines calibrated from ../shared/calibration. Every number
// here is simulated ("device: simulated H100, engine: sim"), never a GPU measurement.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyName } from '../../runtime/scheduler/types.js';
import { costsFor } from '../../runtime/sim/catalogue.js';
import { simulateCluster } from '../../runtime/sim/cluster.js';
import { goodput, planCapacity } from '../../runtime/sim/plan.js';
import type { GoodputResult } from '../../runtime/sim/plan.js';
import { costModelReport, policyParameters } from '../../runtime/sim/policy-params.js';
import { GPUS } from '../../runtime/sim/sim-types.js';
import { attainmentVsGpusSvg, attainmentVsRateSvg, goodputSvg } from '../../runtime/sim/plan-charts.js';
import { w1, w2, w3 } from '../../runtime/sim/workloads.js';
import type { Workload } from '../../runtime/sim/workloads.js';
import { gitCommit, ms, pct, slim, spread, table } from './pool/report.js';

const POLICIES: readonly PolicyName[] = ['tidepool', 'aegaeon', 'request-level', 'request-level+srtf', 'static-colocation', 'dedicated'];
const GPU = GPUS.H100!;
let chartDir = '.';
let sizeName = 'tiny';

interface Size {
  readonly seeds: readonly number[];
  readonly w1: { models: number; ratePerModel: number; durationS: number };
  readonly w2: { totalRate: number; durationS: number };
  readonly w3: { functions: number; totalRate: number; durationS: number };
  readonly goodputRates: readonly number[];
  /** Bisection steps between each policy's last passing and first failing goodput rate (each halves the gap). */
  readonly goodputRefineSteps: number;
  /** SLO scales (BENCHMARKS.md: 1, 0.5, 0.3); W1, W2 and W3 run at 1, W1 also at each tighter scale. */
  readonly sloScales: readonly number[];
}

const SIZES: Record<'tiny' | 'full', Size> = {
  tiny: {
    seeds: [1, 2],
    w1: { models: 16, ratePerModel: 0.1, durationS: 120 },
    w2: { totalRate: 1.5, durationS: 120 },
    w3: { functions: 12, totalRate: 1.5, durationS: 120 },
    goodputRates: [0.1, 0.15, 0.2],
    goodputRefineSteps: 3,
    sloScales: [1, 0.5],
  },
  full: {
    seeds: [1, 2, 3],
    w1: { models: 80, ratePerModel: 0.1, durationS: 600 },
    w2: { totalRate: 8, durationS: 600 },
    w3: { functions: 64, totalRate: 8, durationS: 600 },
    // Steps of 1/8 of 0.1 up to 0.2, then 1/4, then four bisection steps between the last pass and the first
    // miss: a goodput is resolved to 1/16 of its step (under 1% of a rate near 0.1), a ratio to ~2%.
    goodputRates: [0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1125, 0.125, 0.1375, 0.15, 0.1625, 0.175, 0.1875, 0.2, 0.225, 0.25, 0.275, 0.3],
    goodputRefineSteps: 4,
    sloScales: [1, 0.5, 0.3],
  },
};

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const size = SIZES[args.size];
  mkdirSync(args.outDir, { recursive: true });
  chartDir = args.outDir;
  sizeName = args.size;
  printFits();
  const parameters = policyParameters(GPU);
  printParameters(parameters);
  const builders: Record<string, (seed: number) => Workload> = {
    W1: (seed) => w1({ ...size.w1, seed }),
    W2: (seed) => w2({ ...size.w2, seed }),
    W3: (seed) => w3({ ...size.w3, seed }),
  };
  for (const scale of size.sloScales.filter((x) => x !== 1)) {
    builders[`W1@${scale}×SLO`] = (seed) => w1({ ...size.w1, seed, sloScale: scale });
  }
  const results: Record<string, unknown>[] = [];
  for (const [name, build] of Object.entries(builders)) results.push(await runWorkload(name, build, size));
  const gp = await runGoodput(size, results[0]!.minGpus as Record<string, number | undefined>);
  printBars(results, gp);
  const file = join(args.outDir, `pool-${args.size}.json`);
  writeFileSync(file, JSON.stringify({
    bench: 'pool', device: `simulated ${GPU.name}`, engine: 'sim', date: new Date().toISOString(), commit: gitCommit(),
    size: args.size, gpu: GPU, target: 0.9, costModel: costModelReport(GPU), parameters, workloads: results, goodput: gp,
  }, null, 2));
  console.log(`\nwrote ${file} and pool-${args.size}-*.svg`);
}

function printFits(): void {
  const fits = [...costsFor(GPU).fits.values()].filter((f) => f.points > 0 && f.gpu === GPU.name);
  console.log(`step-cost fits on ${GPU.name} (mean abs relative error over the fitted profile points):`);
  for (const f of fits) console.log(`  ${f.shape.padEnd(16)} prefill ${pct(f.prefillError)}  decode ${pct(f.decodeError)}  (${f.points} points)`);
  console.log('  qwen2_5_1_5b, qwen2_5_3b, qwen2_5_14b: not profiled; qwen2_5_7b scaled by weight bytes (extrapolation, no fit error)');
}

/** The policies' parameters as the simulator runs them (also in the result file under `parameters`). */
function printParameters(p: ReturnType<typeof policyParameters>): void {
  const flat = (o: Record<string, unknown>, prefix = ''): string[] => Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? flat(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}: ${String(v)}`]);
  console.log('\npolicy parameters (simulated; read from the code):');
  for (const [name, params] of [['common', p.common], ...Object.entries(p.policies)] as const) {
    console.log(`  ${name}`);
    for (const line of flat(params)) console.log(`    ${line}`);
  }
}

async function runWorkload(name: string, build: (seed: number) => Workload, size: Size): Promise<Record<string, unknown>> {
  const wl = build(size.seeds[0]!);
  console.log(`\n## ${name}: ${wl.functions.length} functions, ${wl.requests.length} requests over ${wl.durationMs / 1000}s, SLO TTFT ${wl.slo.ttftMs}ms / TPOT ${wl.slo.tpotMs}ms`);
  console.log(`config: ${JSON.stringify(wl.config)}`);
  const plan = await planCapacity({ workload: wl, policies: POLICIES, gpu: GPU, maxGpus: 2 * wl.functions.length });
  const rows: string[][] = [];
  const seedRuns: Record<string, number[]> = {};
  const ours = plan.minGpus.tidepool;
  for (const p of POLICIES) {
    const g = plan.minGpus[p];
    const r = plan.atMin[p]!;
    const atts = [r.attainment];
    for (const seed of size.seeds.slice(1)) atts.push((await simulateCluster({ workload: build(seed), policy: p, gpus: r.gpus, gpu: GPU })).attainment);
    seedRuns[p] = atts;
    const s = spread(atts);
    rows.push([
      p, g === undefined ? `>${r.gpus}` : String(g), g === undefined ? '-' : (wl.functions.length / g).toFixed(1),
      `${pct(s.min)} / ${pct(s.median)} / ${pct(s.max)}`, ms(r.ttftP50), ms(r.ttftP99), ms(r.tpotP50), ms(r.tpotP99),
      `${r.switches} (${r.switchOverruns} over)`, g !== undefined && ours !== undefined ? `${(g / ours).toFixed(2)}×` : '-',
    ]);
  }
  console.log(table(['policy', 'min GPUs ≥90%', 'models/GPU', `attainment min/med/max (${size.seeds.length} seeds)`, 'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99', 'switches (over estimate + slack)', 'GPUs vs tidepool'], rows));
  const bound = plan.freeSwitchBound;
  console.log(`free-switch lower bound: ${bound} GPUs (best run's busy time / horizon); tidepool ${ours ?? '-'} = ${ours ? (ours / bound).toFixed(2) : '-'}× the bound (bar: ≤ 1.3×)`);
  const ded = plan.minGpus.dedicated;
  if (ours !== undefined && ded !== undefined) console.log(`tidepool uses ${pct(1 - ours / ded)} fewer GPUs than dedicated (bar on W2: ≥ 85%)`);
  writeChart(name, plan.points.map((p) => ({ policy: p.policy, gpus: p.gpus, attainment: p.attainment })));
  return { workload: name, config: wl.config, functions: wl.functions.length, requests: wl.requests.length, minGpus: plan.minGpus,
    atMin: Object.fromEntries(Object.entries(plan.atMin).map(([k, v]) => [k, slim(v)])), seedAttainment: seedRuns,
    freeSwitchBound: bound, points: plan.points.map(slim) };
}

function writeChart(name: string, points: { policy: string; gpus: number; attainment: number }[]): void {
  const svg = attainmentVsGpusSvg(points, POLICIES, `${name}: SLO attainment vs GPUs (simulated ${GPU.name})`, 0.9);
  writeFileSync(join(chartDir, `pool-${sizeName}-${name.replace(/[^A-Za-z0-9.]+/g, '-')}.svg`), svg);
}

async function runGoodput(size: Size, minGpus: Record<string, number | undefined>): Promise<Record<string, unknown>> {
  const gpus = minGpus.tidepool ?? minGpus.aegaeon ?? 8;
  const policies: PolicyName[] = ['tidepool', 'aegaeon', 'request-level'];
  console.log(`\n## goodput: W1 (${size.w1.models} models), ${gpus} GPUs fixed, highest per-model rate with ≥ 90% attainment`);
  console.log(`grid ${size.goodputRates.join(', ')} req/s per model, then ${size.goodputRefineSteps} bisection steps between each policy's last pass and first miss (from 0 when the lowest rate misses)`);
  const gp = await goodput({
    policies, gpus, rates: size.goodputRates, refineSteps: size.goodputRefineSteps, gpu: GPU,
    workloadAt: (rate) => w1({ ...size.w1, ratePerModel: rate, seed: size.seeds[0]! }),
  });
  const base = gp.tidepool?.rate;
  const r4 = (v: number) => String(Number(v.toFixed(5)));
  console.log(table(['policy', 'goodput (req/s per model)', 'first miss', 'tidepool ÷ this', 'runs (rate: attainment, req/s meeting the SLO of offered)'], policies.map((p) => [
    p, gp[p]!.rate === undefined ? `< ${r4(gp[p]!.missed!)}` : r4(gp[p]!.rate!),
    gp[p]!.missed === undefined ? `none ≤ ${size.goodputRates.at(-1)}` : r4(gp[p]!.missed!),
    base !== undefined && gp[p]!.rate ? `${(base / gp[p]!.rate!).toFixed(2)}×` : '-',
    gp[p]!.runs.map((r) => `${r4(r.rate)}: ${pct(r.attainment)}, ${r.goodputReqPerS.toFixed(2)}/${r.offeredReqPerS.toFixed(2)}`).join('; '),
  ])));
  console.log('bars: tidepool ≥ 1.25× aegaeon, ≥ 2.5× request-level. Anchor (paper): Aegaeon 2–2.5× the rate of ServerlessLLM.');
  const where = `on ${gpus} GPUs (simulated ${GPU.name})`;
  const xLabel = `offered load, requests/s (all ${size.w1.models} models)`;
  writeFileSync(join(chartDir, `pool-${sizeName}-goodput.svg`), goodputSvg(gp, `W1 goodput vs offered load ${where}`, 0.9, xLabel));
  writeFileSync(join(chartDir, `pool-${sizeName}-attainment-vs-rate.svg`), attainmentVsRateSvg(gp, `W1 attainment vs offered load ${where}`, 0.9, xLabel));
  return { gpus, rates: size.goodputRates, refineSteps: size.goodputRefineSteps, byPolicy: gp };
}

/** The bars for `tidepool`, each with its measured ratio and met/missed. */
function printBars(results: Record<string, unknown>[], gp: Record<string, unknown>): void {
  const byPolicy = gp.byPolicy as Record<string, GoodputResult>;
  const ours = byPolicy.tidepool;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const rows: string[][] = [];
  const bar = (name: string, value: number | undefined, text: string, ok: (v: number) => boolean) =>
    rows.push([name, value === undefined ? '-' : text, value === undefined ? 'n/a' : ok(value) ? 'met' : 'missed']);
  // Each goodput lies in [rate, missed): the ratio's point value is rate ÷ rate, its range what the brackets
  // allow. A bracket that straddles the bar leaves the verdict to the point value, said so in the text.
  const goodputBar = (name: string, base: string, need: number) => {
    const theirs = byPolicy[base];
    if (!ours || !theirs || ours.rate === undefined) return bar(name, undefined, '', () => false);
    const lowest = (gp.rates as number[])[0]!;
    if (theirs.rate === undefined) {
      // Even the bisection's lowest rate missed: only a lower bound.
      const v = ours.rate / theirs.missed!;
      return rows.push([name, `> ${v.toFixed(2)}× (${base} < ${theirs.missed} ≤ ${lowest})`, v >= need ? 'met' : 'undetermined']);
    }
    const v = ours.rate / theirs.rate;
    const lo = ours.rate / (theirs.missed ?? theirs.rate);
    const hi = ours.missed === undefined ? Infinity : ours.missed / theirs.rate;
    const range = `${lo.toFixed(2)}–${Number.isFinite(hi) ? hi.toFixed(2) : '∞'}`;
    const verdict = lo >= need ? 'met' : hi < need ? 'missed' : v >= need ? 'met (within the resolution)' : 'missed (within the resolution)';
    rows.push([name, `${v.toFixed(2)}× (resolution ${range}×)`, verdict]);
  };
  goodputBar('goodput ≥ 1.25× aegaeon (W1)', 'aegaeon', 1.25);
  goodputBar('goodput ≥ 2.5× request-level (W1)', 'request-level', 2.5);
  for (const r of results) {
    const min = r.minGpus as Record<string, number | undefined>;
    const bound = r.freeSwitchBound as number;
    const cut = min.tidepool !== undefined && min.dedicated !== undefined ? 1 - min.tidepool / min.dedicated : undefined;
    if (r.workload === 'W2') bar('≥ 85% fewer GPUs than dedicated (W2)', cut, pct(cut ?? 0), (v) => v >= 0.85);
    const overBound = ratio(min.tidepool, Number.isFinite(bound) ? bound : undefined);
    bar(`≤ 1.3× free-switch bound (${String(r.workload)})`, overBound, `${overBound?.toFixed(2)}× (${min.tidepool} vs ${bound})`, (v) => v <= 1.3);
  }
  console.log(`\n## bars for tidepool\n${table(['bar', 'measured', 'verdict'], rows)}`);
}
