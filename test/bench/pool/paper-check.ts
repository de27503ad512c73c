import { simulateCluster } from '../../../runtime/sim/cluster.js';
import type { ClusterResult } from '../../../runtime/sim/cluster.js';
import { checkBound } from '../../../runtime/sim/plan.js';
import { azureLengths } from '../../../runtime/sim/traces.js';
import { GBPS } from '../../../runtime/sim/sim-types.js';
import { w1 } from '../../../runtime/sim/workloads.js';
import type { BenchContext } from './cells.js';
import { runGoodput } from './goodput-cell.js';
import type { GoodputCell } from './goodput-cell.js';
import { meanSpread, pct, table } from './report.js';
import type { Spread } from './report.js';

/** The artifact's own e2e settings (`benchmark/benchmark_e2e.py`): models per node count at 0.1 req/s. */
export interface PaperSetting {
  readonly models: number;
  readonly gpus: number;
}

export interface PaperCheckSize {
  readonly settings: readonly PaperSetting[];
  /** The artifact's replay runs 60 s of arrivals (`LLMService.replay(..., duration=60)`). */
  readonly durationS: number;
  readonly seeds: readonly number[];
  readonly rates: readonly number[];
  readonly refineSteps: number;
}

/** The paper's claim: Aegaeon sustains 2–2.5× the arrival rate of ServerlessLLM (request-level). */
export const PAPER_RATE_RATIO = Object.freeze([2, 2.5] as const);
const RATE = 0.1;

export interface PaperSettingResult {
  readonly models: number;
  readonly gpus: number;
  /** At 0.1 req/s per model, over the seeds: BENCHMARKS.md's token-deadline attainment and the artifact's QoS. */
  readonly at01: Readonly<Record<string, { readonly attainment: Spread; readonly artifactQos: Spread; readonly completedShare: Spread }>>;
  /** Highest per-model rate at ≥ 90% token-deadline attainment (sustainable rate), and aegaeon's over request-level's. */
  readonly sustainable: GoodputCell;
  readonly aegaeonOverRequestLevel: Spread;
  /** The same under the artifact's QoS at ≥ 90%. */
  readonly sustainableArtifactQos: GoodputCell;
  readonly aegaeonOverRequestLevelArtifactQos: Spread;
  /**
   * Explanation only, not a baseline: request-level with weights loading at 16 GB/s, what the artifact's own
   * ServerlessLLM simulation assumes (`aegaeon/sim/worker.py`, `PCIE = 16`), under the artifact's QoS.
   */
  readonly requestLevelAt16GBps: GoodputCell;
}

export interface PaperCheck {
  readonly workload: Readonly<Record<string, unknown>>;
  readonly paperRateRatio: readonly number[];
  readonly settings: readonly PaperSettingResult[];
}

/**
 * ShareGPT lengths as the artifact's own workload files have them (`aegaeon/sim/simdata/synth-40-0.1-1.0-1.0.csv`:
 * 181 requests; tokens), beside which the Azure lengths are reported.
 */
const ARTIFACT_SHAREGPT = Object.freeze({ promptTokens: { mean: 680, median: 538 }, outputTokens: { mean: 282, median: 251 } });

/**
 * Faithful `aegaeon` and `request-level` on the artifact's e2e settings: W1's 60/20/20 mix of Qwen2.5-7B,
 * Yi-1.5-9B and Llama2-13B shapes, TTFT 10 s / TPOT 100 ms, Poisson arrivals at 0.1 req/s per model for 60 s.
 * Lengths: the artifact samples ShareGPT conversations, which ../shared/traces does not have; the Azure LLM
 * 2023 `conv` service (chat) is the closest there. Reports aegaeon's attainment at 0.1 req/s and the ratio of
 * sustainable rates beside the paper's 2–2.5×, under BENCHMARKS.md's token deadlines and under the
 * artifact's own QoS metric.
 */
export async function runPaperCheck(ctx: BenchContext, size: PaperCheckSize): Promise<PaperCheck> {
  const sub: BenchContext = { ...ctx, seeds: size.seeds };
  const lengths = azureLengths('conv').map((l) => ({ prompt: Math.min(6144, l.prompt), output: Math.min(2048, l.output) }));
  const sorted = (f: (l: { prompt: number; output: number }) => number) => lengths.map(f).sort((a, b) => a - b);
  const stats = (v: number[]) => ({ mean: Math.round(v.reduce((a, b) => a + b, 0) / v.length), median: v[Math.floor(v.length / 2)]! });
  const workload = {
    mix: '60% qwen2_5_7b / 20% yi1_5_9b_chat / 20% llama2_13b_chat (the artifact: model number mod 10, 6:2:2)',
    slo: { ttftMs: 10_000, tpotMs: 100 },
    ratePerModel: RATE,
    durationS: size.durationS,
    seeds: size.seeds,
    lengths:
      'Azure LLM 2023 conv (ContextTokens, GeneratedTokens; prompts cut at 6144, outputs at 2048); the artifact uses ShareGPT, which ../shared/traces does not hold',
    promptTokens: stats(sorted((l) => l.prompt)),
    outputTokens: stats(sorted((l) => l.output)),
    artifactShareGpt: ARTIFACT_SHAREGPT,
  };
  console.log(`\n## paper check: the artifact's e2e settings, ${JSON.stringify(workload)}`);
  const settings: PaperSettingResult[] = [];
  const qos = (r: ClusterResult) => (Number.isNaN(r.artifactQos) ? 0 : r.artifactQos);
  const ratio = (g: GoodputCell, a: string, b: string): Spread => {
    const per = g.perSeed[a]!.map((x, i) => (x.rate ?? 0) / (g.perSeed[b]![i]!.rate ?? 0));
    return { mean: g.rate[a]!.mean / g.rate[b]!.mean, min: Math.min(...per), max: Math.max(...per) };
  };
  for (const s of size.settings) {
    const at = (rate: number, seed: number) => w1({ models: s.models, ratePerModel: rate, durationS: size.durationS, seed });
    const at01: Record<string, { attainment: Spread; artifactQos: Spread; completedShare: Spread }> = {};
    for (const policy of ['aegaeon', 'request-level'] as const) {
      const runs: ClusterResult[] = [];
      for (const seed of size.seeds) {
        const wl = at(RATE, seed);
        const r = await simulateCluster({ workload: wl, policy, gpus: s.gpus, gpu: ctx.gpu });
        checkBound(wl, r, ctx.gpu);
        ctx.boundChecks++;
        runs.push(r);
      }
      at01[policy] = {
        attainment: meanSpread(runs.map((r) => r.attainment)),
        artifactQos: meanSpread(runs.map(qos)),
        completedShare: meanSpread(runs.map((r) => r.completedShare)),
      };
    }
    const label = `paper-${s.models}-models`;
    const xLabel = `offered load, requests/s (all ${s.models} models)`;
    const both = ['aegaeon', 'request-level'] as const;
    const sustainable = await runGoodput(sub, label, s.gpus, both, at, size.rates, size.refineSteps, xLabel);
    const sustainableArtifactQos = await runGoodput(sub, `${label}-artifact-qos`, s.gpus, both, at, size.rates, size.refineSteps, xLabel, qos);
    const slow = { ...sub, gpu: { ...ctx.gpu, h2dBytesPerMs: 16 * GBPS } };
    const requestLevelAt16GBps = await runGoodput(
      slow,
      `${label}-request-level-16GBps`,
      s.gpus,
      ['request-level'],
      at,
      size.rates,
      size.refineSteps,
      xLabel,
      qos,
    );
    settings.push({
      models: s.models,
      gpus: s.gpus,
      at01,
      sustainable,
      aegaeonOverRequestLevel: ratio(sustainable, 'aegaeon', 'request-level'),
      sustainableArtifactQos,
      aegaeonOverRequestLevelArtifactQos: ratio(sustainableArtifactQos, 'aegaeon', 'request-level'),
      requestLevelAt16GBps,
    });
  }
  const sp = (x: Spread, f: (v: number) => string) => `${f(x.mean)} (${f(x.min)}–${f(x.max)})`;
  const times = (v: number) => `${v.toFixed(2)}×`;
  console.log(
    table(
      ['setting', 'metric', 'aegaeon at 0.1', 'request-level at 0.1', 'sustainable aegaeon / request-level', 'aegaeon ÷ request-level (per seed)', 'paper'],
      settings.flatMap((s) => [
        [
          `${s.models} models, ${s.gpus} GPUs`,
          'token deadlines',
          sp(s.at01.aegaeon!.attainment, pct),
          sp(s.at01['request-level']!.attainment, pct),
          `${s.sustainable.rate.aegaeon!.mean.toFixed(4)} / ${s.sustainable.rate['request-level']!.mean.toFixed(4)}`,
          sp(s.aegaeonOverRequestLevel, times),
          `${PAPER_RATE_RATIO[0]}–${PAPER_RATE_RATIO[1]}×`,
        ],
        [
          '',
          "artifact's QoS",
          sp(s.at01.aegaeon!.artifactQos, pct),
          sp(s.at01['request-level']!.artifactQos, pct),
          `${s.sustainableArtifactQos.rate.aegaeon!.mean.toFixed(4)} / ${s.sustainableArtifactQos.rate['request-level']!.mean.toFixed(4)}`,
          sp(s.aegaeonOverRequestLevelArtifactQos, times),
          '',
        ],
        [
          '',
          'QoS, request-level loading at 16 GB/s',
          '',
          '',
          `- / ${s.requestLevelAt16GBps.rate['request-level']!.mean.toFixed(4)}`,
          times(s.sustainableArtifactQos.rate.aegaeon!.mean / s.requestLevelAt16GBps.rate['request-level']!.mean),
          '',
        ],
      ]),
    ),
  );
  return { workload, paperRateRatio: PAPER_RATE_RATIO, settings };
}
