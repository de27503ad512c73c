// Pool benchmark (BENCHMARKS.md §1): GPUs needed for a market of models, per policy, on the simulator.
// Runs the production GpuScheduler on simulated engines calibrated from ../shared/calibration. Every number
// here is simulated ("device: simulated H100, engine: sim"), never a GPU measurement.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyName } from '../../runtime/scheduler/types.js';
import { costsFor } from '../../runtime/sim/catalogue.js';
import { costModelReport, policyParameters } from '../../runtime/sim/policy-params.js';
import { GPUS } from '../../runtime/sim/sim-types.js';
import { w1, w2, w3 } from '../../runtime/sim/workloads.js';
import type { Workload } from '../../runtime/sim/workloads.js';
import { bars, printBars } from './pool/bars.js';
import { runCell } from './pool/cells.js';
import type { BenchContext, CellResult } from './pool/cells.js';
import { runGoodput } from './pool/goodput-cell.js';
import { runPaperCheck } from './pool/paper-check.js';
import { runTtftTarget } from './pool/ttft-target.js';
import type { PaperCheckSize } from './pool/paper-check.js';
import { gitCommit, pct } from './pool/report.js';

const POLICIES: readonly PolicyName[] = ['tidepool', 'aegaeon', 'request-level', 'request-level+srtf', 'static-colocation', 'dedicated'];
const GOODPUT_POLICIES: readonly PolicyName[] = ['tidepool', 'aegaeon', 'request-level'];
const GPU = GPUS.H100!;
/** tidepool's second setting: a TTFT target (`TidepoolOptions.ttftTargetMs`), measured beside the default. */
const TTFT_TARGET_MS = 2000;

interface Size {
  /** Every cell runs each seed; a policy's fewest GPUs need the mean over them at 90% and none below 85%. */
  readonly seeds: readonly number[];
  readonly w1: { models: number; ratePerModel: number; durationS: number };
  readonly w2: { totalRate: number; durationS: number };
  readonly w3: { functions: number; totalRate: number; durationS: number };
  readonly goodputRates: readonly number[];
  /** Bisection steps between each policy's last passing and first failing goodput rate (each halves the gap). */
  readonly goodputRefineSteps: number;
  /** SLO scales (BENCHMARKS.md: 1, 0.5, 0.3); W1, W2 and W3 run at 1, W1 also at each tighter scale. */
  readonly sloScales: readonly number[];
  readonly paper: PaperCheckSize;
}

const SIZES: Record<'tiny' | 'full', Size> = {
  tiny: {
    seeds: [1, 2, 3],
    w1: { models: 16, ratePerModel: 0.1, durationS: 120 },
    w2: { totalRate: 3, durationS: 120 },
    w3: { functions: 12, totalRate: 1.5, durationS: 120 },
    goodputRates: [0.1, 0.15, 0.2],
    goodputRefineSteps: 2,
    sloScales: [1, 0.5],
    paper: { settings: [{ models: 16, gpus: 4 }], durationS: 60, seeds: [1, 2, 3], rates: [0.05, 0.1, 0.2], refineSteps: 1 },
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
    paper: {
      settings: [
        { models: 40, gpus: 8 },
        { models: 80, gpus: 16 },
      ],
      durationS: 60,
      seeds: [1, 2, 3, 4, 5],
      rates: [0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1],
      refineSteps: 3,
    },
  },
};

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const size = SIZES[args.size];
  mkdirSync(args.outDir, { recursive: true });
  const ctx: BenchContext = { gpu: GPU, outDir: args.outDir, size: args.size, seeds: size.seeds, policies: POLICIES, boundChecks: 0 };
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
  const cells: CellResult[] = [];
  for (const [name, build] of Object.entries(builders)) cells.push(await runCell(ctx, name, build));
  const ttftTarget = await runTtftTarget(ctx, cells[0]!, builders.W1!, TTFT_TARGET_MS);
  const w1Min = cells[0]!.minGpus;
  const gpus = w1Min.tidepool ?? w1Min.aegaeon ?? 8;
  const gp = await runGoodput(
    ctx,
    'W1',
    gpus,
    GOODPUT_POLICIES,
    (rate, seed) => w1({ ...size.w1, ratePerModel: rate, seed }),
    size.goodputRates,
    size.goodputRefineSteps,
    `offered load, requests/s (all ${size.w1.models} models)`,
  );
  console.log('bars: tidepool ≥ 1.25× aegaeon, ≥ 2.5× request-level. Anchor (paper): Aegaeon 2–2.5× the rate of ServerlessLLM.');
  const gpTarget = await runGoodput(
    ctx,
    `W1-tidepool-ttft-target-${TTFT_TARGET_MS}ms`,
    gpus,
    ['tidepool'],
    (rate, seed) => w1({ ...size.w1, ratePerModel: rate, seed }),
    size.goodputRates,
    size.goodputRefineSteps,
    `offered load, requests/s (all ${size.w1.models} models)`,
    undefined,
    { tidepool: { ttftTargetMs: TTFT_TARGET_MS } },
  );
  const paperCheck = await runPaperCheck(ctx, size.paper);
  const barList = bars(cells, gp);
  printBars(barList);
  console.log(`\nlower-bound check: ${ctx.boundChecks} runs, none reached an attainment on fewer GPUs than the bound for it allows`);
  const file = join(args.outDir, `pool-${args.size}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        bench: 'pool',
        device: `simulated ${GPU.name}`,
        engine: 'sim',
        date: new Date().toISOString(),
        commit: gitCommit(),
        size: args.size,
        gpu: GPU,
        target: 0.9,
        seedFloor: 0.85,
        seeds: size.seeds,
        costModel: costModelReport(GPU),
        parameters,
        workloads: cells.map(cellJson),
        goodput: gp,
        ttftTarget: { ...ttftTarget, goodput: gpTarget },
        paperCheck,
        bars: barList,
        lowerBoundCheck: { runs: ctx.boundChecks, violations: 0 },
      },
      (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    ),
  );
  console.log(`\nwrote ${file} and pool-${args.size}-*.svg`);
}

/** A cell for the result file: every run by policy, GPU count and seed, without wall-clock times. */
function cellJson(c: CellResult): Record<string, unknown> {
  return {
    ...c,
    points: c.points.map((p) => ({
      policy: p.policy,
      gpus: p.gpus,
      meanAttainment: p.meanAttainment,
      minAttainment: p.minAttainment,
      seedAttainment: p.runs.map((r) => r.attainment),
      ttftP50: p.runs.map((r) => r.ttftP50),
      ttftP99: p.runs.map((r) => r.ttftP99),
      tpotP50: p.runs.map((r) => r.tpotP50),
      tpotP99: p.runs.map((r) => r.tpotP99),
    })),
  };
}

function printFits(): void {
  const fits = [...costsFor(GPU).fits.values()].filter((f) => f.points > 0 && f.gpu === GPU.name);
  console.log(`step-cost fits on ${GPU.name} (mean abs relative error over the fitted profile points):`);
  for (const f of fits) console.log(`  ${f.shape.padEnd(16)} prefill ${pct(f.prefillError)}  decode ${pct(f.decodeError)}  (${f.points} points)`);
  console.log('  qwen2_5_1_5b, qwen2_5_3b, qwen2_5_14b: not profiled; qwen2_5_7b scaled by weight bytes (extrapolation, no fit error)');
}

/** The policies' parameters as the simulator runs them (also in the result file under `parameters`). */
function printParameters(p: ReturnType<typeof policyParameters>): void {
  const flat = (o: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? flat(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}: ${String(v)}`],
    );
  console.log('\npolicy parameters (simulated; read from the code):');
  for (const [name, params] of [['common', p.common], ...Object.entries(p.policies)] as const) {
    console.log(`  ${name}`);
    for (const line of flat(params)) console.log(`    ${line}`);
  }
}
