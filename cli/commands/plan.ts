import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { POLICY_NAMES, type PolicyName } from '../../protocol/policy-names.js';
import { SHAPES, calibrationGaps } from '../../runtime/sim/catalogue.js';
import { MAX_ARENA_SHARE } from '../../runtime/sim/placement.js';
import { goodput, planCapacity } from '../../runtime/sim/plan.js';
import { GBPS, GPUS } from '../../runtime/sim/sim-types.js';
import type { SimGpuSpec } from '../../runtime/sim/sim-types.js';
import { attainmentVsGpusSvg, attainmentVsRateSvg, goodputSvg } from '../../runtime/sim/plan-charts.js';
import { workloadFromTrace } from '../../runtime/sim/trace-file.js';
import { scaleRate, w1, w2, w3 } from '../../runtime/sim/workloads.js';
import type { Workload } from '../../runtime/sim/workloads.js';
import { CliError } from '../cli-error.js';
import { printJson, table } from '../output.js';

interface PlanOpts {
  workload?: string;
  trace?: string;
  models: string;
  rate: string;
  durationS: string;
  seed: string;
  ttftMs: string;
  tpotMs: string;
  gpu: string;
  h2dGbps?: string;
  switchOverheadMs?: string;
  policies?: string;
  target: string;
  maxGpus?: string;
  rateSteps: string;
  out?: string;
  svg?: string;
  json?: boolean;
}

/** Multiples of the workload's own rate tried for goodput, ascending; the first miss stops a policy. */
const DEFAULT_RATE_STEPS = '1,1.25,1.5,1.75,2,2.5,3';
/** Bisection steps between a policy's last passing and first failing rate (each halves the gap). */
const GOODPUT_REFINE_STEPS = 3;

export function registerPlan(command: Command): void {
  command
    .option('--workload <w>', 'generator: w1 (Poisson, Aegaeon mix), w2 (Alibaba market), w3 (ServeGen clients)')
    .option('--trace <file>', 'JSON lines: {"at_s","function","shape","prompt_tokens","output_tokens"} per request')
    .option('--models <n>', 'functions (w1, w3)', '16')
    .option('--rate <r>', 'req/s per model (w1) or in total (w2, w3)', '0.1')
    .option('--duration-s <s>', 'simulated horizon, seconds', '600')
    .option('--seed <n>', 'generator seed', '1')
    .option('--ttft-ms <ms>', 'time-to-first-token SLO', '10000')
    .option('--tpot-ms <ms>', 'time-per-output-token SLO', '100')
    .option(
      '--gpu <type>',
      `GPU type: ${Object.keys(GPUS)
        .map((g) => g.toLowerCase())
        .join(', ')}`,
      'h100',
    )
    .option('--h2d-gbps <GB/s>', "host-to-device bandwidth of a weight load (default: the GPU type's)")
    .option('--switch-overhead-ms <ms>', "fixed cost of a weight load beyond the copy (default: the GPU type's)")
    .option('--policies <list>', `comma-separated (default all: ${POLICY_NAMES.join(', ')})`)
    .option('--target <ratio>', 'attainment to reach, 0..1', '0.9')
    .option('--max-gpus <n>', 'largest GPU count tried (default 4 × functions)')
    .option('--rate-steps <list>', 'multiples of the workload rate tried for goodput', DEFAULT_RATE_STEPS)
    .option('--out <file>', 'write the result as JSON')
    .option('--svg <file>', 'write the attainment-vs-GPUs chart (default: --out with .svg)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: PlanOpts) => {
      const gpu = gpuSpec(opts);
      const policies = parsePolicies(opts.policies);
      const target = num('--target', opts.target, 0, 1);
      const wl = buildWorkload(opts);
      checkShapes(wl, gpu, opts.gpu);
      const progress = opts.json ? () => {} : (s: string) => process.stderr.write(s);
      const plan = await planCapacity({
        workloads: [wl],
        policies,
        target,
        gpu,
        ...(opts.maxGpus ? { maxGpus: int('--max-gpus', opts.maxGpus) } : {}),
        onRun: (r) => progress(`  ${r.policy} on ${r.gpus} GPUs: ${(100 * r.attainment).toFixed(1)}%\n`),
      });
      const found = policies.map((p) => plan.minGpus[p]).filter((g): g is number => g !== undefined);
      const gpus = found.length > 0 ? Math.min(...found) : plan.atMin[policies[0]!]!.gpus;
      const steps = opts.rateSteps.split(',').map((s) => num('--rate-steps', s, 0, Infinity));
      const total = wl.requests.length / (wl.durationMs / 1000);
      const gp = await goodput({ policies, gpus, gpu, target, rates: steps, refineSteps: GOODPUT_REFINE_STEPS, workloadAt: (f) => scaleRate(wl, f) });
      const result = {
        workload: wl.name,
        config: wl.config,
        functions: wl.functions.length,
        requests: wl.requests.length,
        rateReqPerS: total,
        slo: wl.slo,
        gpu: gpu.name,
        switchCost: {
          h2dGBps: gpu.h2dBytesPerMs / GBPS,
          overheadMs: gpu.loadOverheadMs,
          fromFlags: opts.h2dGbps !== undefined || opts.switchOverheadMs !== undefined,
        },
        target,
        lowerBound: plan.lowerBound.gpus,
        goodputGpus: gpus,
        policies: policies.map((p) => ({
          policy: p,
          minGpus: plan.minGpus[p] ?? null,
          modelsPerGpu: plan.minGpus[p] ? wl.functions.length / plan.minGpus[p]! : null,
          attainment: plan.atMin[p]!.meanAttainment,
          goodputReqPerS: gp[p]!.rate === undefined ? null : gp[p]!.rate! * total,
          // per goodput run: the multiple of the workload's rate tried, the req/s it offered, the attainment,
          // and the req/s that met the SLO (every token by its deadline): the goodput chart's y
          goodputRuns: gp[p]!.runs.map((r) => ({
            rateFactor: r.rate,
            reqPerS: r.rate * total,
            attainment: r.attainment,
            sloMetReqPerS: r.goodputReqPerS,
          })),
        })),
        points: plan.points.map((r) => ({ policy: r.policy, gpus: r.gpus, attainment: r.meanAttainment })),
      };
      const svgPath = opts.svg ?? (opts.out ? `${opts.out.replace(/\.json$/, '')}.svg` : undefined);
      if (opts.out) writeFileSync(opts.out, JSON.stringify(result, null, 2));
      if (svgPath) {
        writeFileSync(svgPath, chart(result.points, policies, wl, gpu.name, target));
        const byRate = Object.fromEntries(policies.map((p) => [p, gp[p]!]));
        const where = `on ${gpus} GPUs (simulated ${gpu.name})`;
        writeFileSync(chartPath(svgPath, 'goodput'), goodputSvg(byRate, `${wl.name}: goodput vs offered load ${where}`, target));
        writeFileSync(chartPath(svgPath, 'attainment-vs-rate'), attainmentVsRateSvg(byRate, `${wl.name}: attainment vs offered load ${where}`, target));
      }
      if (opts.json) return printJson(result);
      printHuman(result, wl, gpus, opts.out, svgPath);
    });
}

function printHuman(
  r: {
    policies: { policy: string; minGpus: number | null; modelsPerGpu: number | null; attainment: number; goodputReqPerS: number | null }[];
    lowerBound: number;
    rateReqPerS: number;
    target: number;
    gpu: string;
    switchCost: { h2dGBps: number; overheadMs: number; fromFlags: boolean };
  },
  wl: Workload,
  gpus: number,
  out: string | undefined,
  svg: string | undefined,
): void {
  console.log(
    `${wl.name}: ${wl.functions.length} functions, ${wl.requests.length} requests over ${wl.durationMs / 1000}s (${r.rateReqPerS.toFixed(2)} req/s), SLO TTFT ${wl.slo.ttftMs}ms / TPOT ${wl.slo.tpotMs}ms, target ${(100 * r.target).toFixed(0)}%`,
  );
  console.log(
    table([
      ['POLICY', 'MIN GPUS', 'MODELS/GPU', 'ATTAINMENT', `GOODPUT @${gpus} GPUS`],
      ...r.policies.map((p) => [
        p.policy,
        p.minGpus === null ? 'not reached' : String(p.minGpus),
        p.modelsPerGpu === null ? '-' : p.modelsPerGpu.toFixed(1),
        `${(100 * p.attainment).toFixed(1)}%`,
        p.goodputReqPerS === null ? '-' : `${p.goodputReqPerS.toFixed(2)} req/s`,
      ]),
    ]),
  );
  console.log(`lower bound: ${r.lowerBound} GPUs (no schedule reaches the target on fewer, with free switches and KV moves; docs/scheduler.md)`);
  console.log(
    `switch cost: weight bytes / ${r.switchCost.h2dGBps} GB/s + ${r.switchCost.overheadMs} ms (${r.switchCost.fromFlags ? '--h2d-gbps / --switch-overhead-ms' : `simulated ${r.gpu}'s defaults`})`,
  );
  const charts = svg ? `${svg}, ${chartPath(svg, 'goodput')} and ${chartPath(svg, 'attainment-vs-rate')}` : '';
  if (out) console.log(`wrote ${out}${svg ? `, ${charts}` : ''}`);
  else if (svg) console.log(`wrote ${charts}`);
}

/** The rate charts land beside the attainment-vs-GPUs one: `plan.svg` → `plan-goodput.svg`, `plan-attainment-vs-rate.svg`. */
function chartPath(svgPath: string, name: string): string {
  return svgPath.replace(/(\.svg)?$/, `-${name}.svg`);
}

/** The GPU type, with the switch cost's two terms overridden by their flags. */
function gpuSpec(o: PlanOpts): SimGpuSpec {
  const known = Object.keys(GPUS)
    .map((g) => g.toLowerCase())
    .join(', ');
  const gpu = GPUS[o.gpu.toUpperCase()];
  if (!gpu) throw new CliError(`--gpu: unknown GPU ${o.gpu} (known: ${known})`);
  return {
    ...gpu,
    ...(o.h2dGbps === undefined ? {} : { h2dBytesPerMs: num('--h2d-gbps', o.h2dGbps, 0, 10_000) * GBPS }),
    ...(o.switchOverheadMs === undefined ? {} : { loadOverheadMs: nonNegative('--switch-overhead-ms', o.switchOverheadMs, 600_000) }),
  };
}

/**
 * Every shape the workload uses must be priced on this GPU (a step-time profile of it, or of the shape it is
 * derived from, in the calibration file) and its weights must fit a GPU's weights arena; otherwise the plan
 * stops here naming the shapes, instead of failing mid-simulation or planning a model that never loads.
 */
function checkShapes(wl: Workload, gpu: SimGpuSpec, flag: string): void {
  const shapes = [...new Set(wl.functions.map((f) => f.shape))].sort();
  const gaps = calibrationGaps(gpu, shapes);
  if (gaps.length > 0) {
    const covered = Object.values(GPUS)
      .filter((g) => calibrationGaps(g, shapes).length === 0)
      .map((g) => g.name.toLowerCase());
    throw new CliError(
      `--gpu ${flag}: no step-time calibration on ${gpu.name} for ${gaps.join(', ')} (used by this workload); ` +
        `GPU types calibrated for all its shapes: ${covered.join(', ') || 'none'}`,
    );
  }
  const arena = gpu.memoryBytes * MAX_ARENA_SHARE;
  const big = shapes.filter((s) => SHAPES[s]!.weightBytes > arena);
  if (big.length > 0) {
    throw new CliError(
      `--gpu ${flag}: ${big.map((s) => `${s} (${gb(SHAPES[s]!.weightBytes)} GB)`).join(', ')} cannot load on ${gpu.name}: ` +
        `its weights arena is at most ${Math.round(100 * MAX_ARENA_SHARE)}% of ${gb(gpu.memoryBytes)} GB`,
    );
  }
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(1);
}

function chart(points: { policy: string; gpus: number; attainment: number }[], policies: readonly string[], wl: Workload, gpu: string, target: number): string {
  return attainmentVsGpusSvg(points, policies, `${wl.name}: SLO attainment vs GPUs (simulated ${gpu})`, target);
}

function buildWorkload(o: PlanOpts): Workload {
  if ((o.workload === undefined) === (o.trace === undefined)) throw new CliError('give exactly one of --workload w1|w2|w3 or --trace <file>');
  const durationS = num('--duration-s', o.durationS, 0, Infinity);
  const rate = num('--rate', o.rate, 0, Infinity);
  const seed = int('--seed', o.seed);
  let wl: Workload;
  if (o.trace !== undefined) wl = workloadFromTrace(o.trace);
  else if (o.workload === 'w1') wl = w1({ models: int('--models', o.models), ratePerModel: rate, durationS, seed });
  else if (o.workload === 'w2') wl = w2({ totalRate: rate, durationS, seed });
  else if (o.workload === 'w3') wl = w3({ functions: int('--models', o.models), totalRate: rate, durationS, seed });
  else throw new CliError(`--workload: unknown workload ${o.workload} (known: w1, w2, w3)`);
  if (wl.requests.length === 0) throw new CliError('the workload has no requests (raise --rate or --duration-s)');
  return { ...wl, slo: { ttftMs: num('--ttft-ms', o.ttftMs, 0, Infinity), tpotMs: num('--tpot-ms', o.tpotMs, 0, Infinity) } };
}

function parsePolicies(list: string | undefined): PolicyName[] {
  if (list === undefined) return [...POLICY_NAMES];
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(POLICY_NAMES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new CliError(`--policies: unknown ${bad.join(', ') || '(empty)'} (known: ${POLICY_NAMES.join(', ')})`);
  return names as PolicyName[];
}

function num(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= min || n > max) throw new CliError(`${flag}: ${v} is not a number in (${min}, ${max}]`);
  return n;
}

function nonNegative(flag: string, v: string, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new CliError(`${flag}: ${v} is not a number in [0, ${max}]`);
  return n;
}

function int(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${flag}: ${v} is not a positive integer`);
  return n;
}
