// Benchmark 3 (BENCHMARKS.md §3): the whole platform on one device against the simulator's prediction.
// K synthetic models of one shape on one engine (the CUDA engine where a GPU is present, else the CPU
// engine), a multi-function workload replayed through the real HTTP API at two rates under `request-level`
// and `tidepool`; per run the measured token-deadline attainment and goodput, and the simulator's
// prediction for the same requests with step costs fitted to this engine's own profile, measured in the
// same run. Bar: the simulator's attainment within 15% of what was measured, in every run. Sizes: full = 4 × `small` (CPU) or
// 4 × qwen2.5-1.5b (CUDA), 45 s per run; tiny = 3 × `tiny`, one policy, 8 s (CI smoke).
import type { WeightsDigest } from '../../protocol/weights-digest.js';
import { execSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../platform/config.js';
import { modelShape } from '../../platform/models/shapes.js';
import { synthesizeModel } from '../../platform/models/synth.js';
import { detectBackend } from '../../runtime/engine/detect-backend.js';
import { startEngineSupervisor } from '../../runtime/engine/engine-supervisor.js';
import type { PolicyName } from '../../runtime/scheduler/gpu-scheduler.js';
import type { Slo } from '../../protocol/slo.js';
import { createCalibratedCosts } from '../../runtime/sim/cost-model.js';
import { profileEngine, type EngineProfile } from './e2e/engine-profile.js';
import { startBenchPlatform } from './e2e/platform.js';
import { fitProfile, measuredAttainment, predict, type DeviceModel } from './e2e/predict.js';
import { planWorkload, replay, writeFunctionDir, type ServedRequest } from './e2e/replay.js';

const BAR = 0.15;

interface Setup {
  readonly shape: string;
  readonly functions: number;
  readonly durationMs: number;
  readonly policies: readonly PolicyName[];
  /** Offered load as a multiple of what one device serves one request at a time. */
  readonly loads: readonly number[];
  readonly promptWords: readonly [number, number];
  readonly outputTokens: readonly [number, number];
  readonly profile: { readonly batches: readonly number[]; readonly lengths: readonly number[]; readonly decodeSteps: number };
}

function setupFor(size: 'tiny' | 'full', backend: 'cpu' | 'cuda'): Setup {
  if (size === 'tiny') {
    return {
      shape: 'tiny',
      functions: 3,
      durationMs: 8_000,
      policies: ['tidepool'],
      loads: [0.7],
      promptWords: [8, 48],
      outputTokens: [8, 48],
      profile: { batches: [1, 4], lengths: [16, 64], decodeSteps: 4 },
    };
  }
  return {
    shape: backend === 'cuda' ? 'qwen2.5-1.5b' : 'small',
    functions: 4,
    durationMs: 45_000,
    policies: ['request-level', 'tidepool'],
    loads: [0.6, 1.2],
    promptWords: [16, 160],
    outputTokens: [16, 96],
    profile: { batches: [1, 2, 4, 8, 16], lengths: [32, 128, 512], decodeSteps: 6 },
  };
}

interface Run {
  readonly policy: PolicyName;
  readonly load: number;
  readonly ratePerFunction: number;
  readonly requests: number;
  readonly refused: number;
  readonly measured: { readonly attainment: number; readonly onTime: number; readonly goodput: number };
  readonly predicted: { readonly attainment: number; readonly onTime: number; readonly goodput: number };
  readonly attainmentError: number;
  readonly goodputError: number;
}

export default async function e2eBench(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const config = loadConfig({});
  const { backend } = await detectBackend({ engineBin: config.engineBin, requested: 'auto' });
  const setup = setupFor(args.size, backend);
  const threads = Math.min(cpus().length, 8);
  const engineMemoryBytes = backend === 'cpu' ? 4 * 2 ** 30 : 40 * 2 ** 30;
  const device = backend === 'cpu' ? `cpu (${cpus()[0]?.model.trim() ?? 'unknown'}, ${threads} threads)` : 'cuda:0';
  const root = await mkdtemp(join(tmpdir(), 'tidepool-e2e-'));
  try {
    const names = Array.from({ length: setup.functions }, (_, i) => `fn${i}`);
    const modelDirs: string[] = [];
    let bytes = 0;
    let vocabSize = 0;
    for (const [i, name] of names.entries()) {
      const dir = join(root, 'models', name);
      const synth = await synthesizeModel({ shape: setup.shape, seed: 100 + i, outDir: dir });
      bytes = synth.bytes;
      vocabSize = synth.config.vocabSize;
      modelDirs.push(dir);
    }
    const shape = modelShape(setup.shape);
    const profile = await measureProfile(config.engineBin, backend, threads, engineMemoryBytes, setup, modelDirs, names, bytes, device, vocabSize);
    const headDim = shape.hiddenSize / shape.numHeads;
    const d: DeviceModel = {
      shape: setup.shape,
      device,
      memoryBytes: engineMemoryBytes,
      weightsArenaBytes: engineMemoryBytes * 0.75,
      kvBytesPerToken: shape.numLayers * 2 * shape.numKvHeads * headDim * (backend === 'cpu' ? 4 : 2),
    };
    const fit = fitProfile(profile, d);
    const costs = createCalibratedCosts([fit]);
    const meanPrompt = (setup.promptWords[0] + setup.promptWords[1]) / 2;
    const meanOutput = (setup.outputTokens[0] + setup.outputTokens[1]) / 2;
    const soloServiceMs = costs.prefillMs(setup.shape, meanPrompt, 1) + meanOutput * costs.decodeMs(setup.shape, 1, meanPrompt + meanOutput / 2);
    const slo: Slo = {
      ttftMs: Math.max(300, 10 * costs.prefillMs(setup.shape, meanPrompt, 1)),
      tpotMs: Math.max(20, 3 * costs.decodeMs(setup.shape, 4, meanPrompt + meanOutput / 2)),
    };
    console.log(`device ${device}, engine ${backend}; ${setup.functions} × ${setup.shape} (${(bytes / 2 ** 20).toFixed(1)} MiB each)`);
    console.log(
      `engine profile fit (${fit.points} points): prefill error ${(100 * fit.prefillError).toFixed(1)}%, decode error ${(100 * fit.decodeError).toFixed(1)}%; first load ${profile.firstLoadMs.toFixed(1)} ms, reload ${profile.reloadMs.toFixed(1)} ms`,
    );
    console.log(`one request alone ≈ ${soloServiceMs.toFixed(0)} ms; SLO TTFT ${slo.ttftMs.toFixed(0)} ms, TPOT ${slo.tpotMs.toFixed(0)} ms`);
    const functionDirs = await Promise.all(names.map((name, i) => writeFunctionDir(root, name, modelDirs[i]!, slo)));
    const runs: Run[] = [];
    for (const policy of setup.policies) {
      for (const load of setup.loads) {
        const ratePerFunction = (load * 1000) / soloServiceMs / setup.functions;
        const plan = planWorkload({
          functions: names,
          rate: ratePerFunction,
          durationMs: setup.durationMs,
          promptWords: setup.promptWords,
          outputTokens: setup.outputTokens,
          seed: 7,
        });
        const platform = await startBenchPlatform({ engineBin: config.engineBin, backend, engineThreads: threads, engineMemoryBytes, policy, functionDirs });
        let served: ServedRequest[];
        try {
          await replay(
            platform.url,
            names.map((fn) => ({ fn, atMs: 0, promptWords: 4, maxTokens: 2 })),
          ); // cold starts out of the way
          served = await replay(platform.url, plan);
        } finally {
          await platform.close();
        }
        const measured = measuredAttainment(served, slo);
        const predicted = await predict(served, fit, profile, d, policy, slo);
        runs.push(summarize(policy, load, ratePerFunction, served, measured, predicted, setup.durationMs));
      }
    }
    report(runs);
    await writeResults(args, { device, backend, setup, slo, fit, profile, runs });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function measureProfile(
  engineBin: string,
  backend: 'cpu' | 'cuda',
  threads: number,
  memoryBudgetBytes: number,
  setup: Setup,
  dirs: readonly string[],
  names: readonly string[],
  bytes: number,
  device: string,
  vocabSize: number,
): Promise<EngineProfile> {
  const supervisor = await startEngineSupervisor({ engineBin, backend, threads, memoryBudgetBytes });
  try {
    const engine = await supervisor.ready();
    const models = dirs.map((dir, i) => ({ weightsDigest: `profile-${names[i]}` as WeightsDigest, dir, bytes })); // engine-only names: no artifact here
    return await profileEngine({ engine, models, shape: setup.shape, device, vocabSize, ...setup.profile });
  } finally {
    await supervisor.close();
  }
}

function summarize(
  policy: PolicyName,
  load: number,
  ratePerFunction: number,
  served: readonly ServedRequest[],
  measured: readonly number[],
  predicted: readonly number[],
  durationMs: number,
): Run {
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
  const onTime = (v: readonly number[]) => v.filter((a) => a >= 1 - 1e-9).length / Math.max(1, v.length);
  const side = (v: readonly number[]) => ({ attainment: mean(v), onTime: onTime(v), goodput: (onTime(v) * v.length) / (durationMs / 1000) });
  const m = side(measured);
  const p = side(predicted);
  return {
    policy,
    load,
    ratePerFunction,
    requests: served.length,
    refused: served.filter((r) => r.status !== 200).length,
    measured: m,
    predicted: p,
    attainmentError: Math.abs(p.attainment - m.attainment) / Math.max(1e-9, m.attainment),
    goodputError: Math.abs(p.goodput - m.goodput) / Math.max(1e-9, m.goodput),
  };
}

function report(runs: readonly Run[]): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.table(
    runs.map((r) => ({
      policy: r.policy,
      load: r.load,
      'req/s per fn': r.ratePerFunction.toFixed(3),
      requests: r.requests,
      refused: r.refused,
      'attainment measured': pct(r.measured.attainment),
      'attainment sim': pct(r.predicted.attainment),
      'sim error': pct(r.attainmentError),
      'goodput measured': r.measured.goodput.toFixed(2),
      'goodput sim': r.predicted.goodput.toFixed(2),
      'goodput error': pct(r.goodputError),
    })),
  );
  // Judged on attainment, what `tidepool plan` sizes clusters by; goodput (requests wholly on time) is shown
  // too, but near zero a relative error of it says little.
  const worst = Math.max(...runs.map((r) => r.attainmentError));
  console.log(`bar: simulator's attainment within ${BAR * 100}% of measured, every run: worst ${pct(worst)} → ${worst <= BAR ? 'met' : 'MISSED'}`);
}

async function writeResults(args: { size: string; outDir: string }, figures: Record<string, unknown>): Promise<void> {
  await mkdir(args.outDir, { recursive: true });
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const file = join(args.outDir, `e2e-${args.size}.json`);
  const note =
    'server, engine and client share this machine over loopback; measured = client-side token times of streamed native invokes; ' +
    "predicted = the simulator on the same requests (arrival, prompt and output tokens as served) with the production scheduler and step costs fitted to this engine's profile from the same run";
  await writeFile(
    file,
    `${JSON.stringify({ bench: 'e2e', size: args.size, date: new Date().toISOString(), commit, cores: cpus().length, note, ...figures }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}
