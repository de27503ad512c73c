import { DEFAULT_COSTS } from '../scheduler/cost-estimator.js';
import { DEMAND_HALF_LIFE_MS } from '../scheduler/demand.js';
import { AEGAEON_PCIE_EFFICIENCY, AEGAEON_QUOTA_DEFAULTS } from '../scheduler/aegaeon-quota.js';
import { AEGAEON_PREFILL_DEFAULTS } from '../scheduler/policies/aegaeon-prefill.js';
import { AEGAEON_UNIFIED_DEFAULTS, createAegaeonUnifiedPolicy } from '../scheduler/policies/aegaeon-unified.js';
import { NODE_ROUTING } from '../device-router.js';
import { PINNED_OPTIONS } from '../scheduler/policies/pinned.js';
import { createRequestLevelPolicy } from '../scheduler/policies/request-level.js';
import { TIDEPOOL_DEFAULTS } from '../scheduler/policies/tidepool.js';
import type { PolicyName } from '../scheduler/types.js';
import { DERIVED, costsFor } from './catalogue.js';
import { MAX_ARENA_SHARE, STATIC_MIN_KV_SHARE, TIDEPOOL_ARENA_SHARE } from './placement.js';
import { SATURATION_RATE } from '../../protocol/routing/home-plan.js';
import { AEGAEON_SPLIT, artifactPcieBytesPerMs } from './disaggregated-cluster.js';
import { PLANNED_SPILL } from './router.js';
import { GBPS } from './sim-types.js';
import type { SimGpuSpec } from './sim-types.js';
import { SIM_ENGINE_DEFAULTS } from './simulated-engine.js';

/**
 * The parameters every policy runs with in the simulator, read from the constants the code uses (never
 * restated), so the pool benchmark's output documents its baselines as they ran. Values in ms, bytes shares,
 * req/s; `rule` fields say in words what a value cannot.
 */
export function policyParameters(gpu: SimGpuSpec): { common: Record<string, unknown>; policies: Record<PolicyName, Record<string, unknown>> } {
  const minTurnMs = DEFAULT_COSTS.minTurnMs;
  return {
    common: {
      gpu: gpu.name,
      memoryGB: gpu.memoryBytes / 1e9,
      switchCost: { rule: 'weight bytes / H2D bandwidth + fixed overhead', h2dGBps: gpu.h2dBytesPerMs / GBPS, overheadMs: gpu.loadOverheadMs },
      kvMoves: 'KV bytes / H2D bandwidth, on the same copy stream as loads',
      engine: {
        ...SIM_ENGINE_DEFAULTS,
        admission: 'reserves (prompt + max tokens) × KV bytes per token',
        prefill: 'a step admitting sequences is a prefill step (no chunked prefill)',
      },
      estimator: {
        stepPrior: `decode ${(DEFAULT_COSTS.decodeMsPerWeightByte * 15.2e9).toFixed(1)} ms per 15.2 GB of weights, then an EWMA of observed turns`,
        smoothing: DEFAULT_COSTS.smoothing,
        switchSlackMs: DEFAULT_COSTS.switchSlackMs,
      },
      turnQuota: 'a turn is cut at the token boundary after its quota (ms), whatever the step estimate said',
      gpuIdleEvictMs: DEFAULT_COSTS.gpuIdleEvictMs,
      router: {
        pooled:
          "the node's device router (runtime/device-router.ts), the GPUs as one node's devices, with homes planned from every function's rate: " +
          "a GPU running the model's requests, else its home, else the GPU owing the fewest output tokens; spill to the least loaded GPU when the choice " +
          'owes more than spillMeanFactor × the mean + the slack',
        homePlan: 'heaviest expected load first (bytes × r / (1 + r / saturation)), each to the GPU with the least expected load so far',
        saturationReqPerS: SATURATION_RATE,
        spillSlackTokens: PLANNED_SPILL.spillSlackTokens,
        spillMeanFactor: PLANNED_SPILL.spillMeanFactor,
        nodeRouting: `a node learns homes (the last GPU used) and prefers a GPU holding the weights; spill past the least loaded GPU + ${NODE_ROUTING.spillSlackTokens} tokens`,
        placed: "the least loaded of the function's placed GPUs",
      },
    },
    policies: {
      tidepool: {
        rule: 'least slack first at token granularity; latest start = earliest next-token deadline − load (if absent) − prefill − one step',
        minTurnMs,
        maxQuotaMs: TIDEPOOL_DEFAULTS.maxQuotaMs,
        soloQuotaMs: TIDEPOOL_DEFAULTS.soloQuotaMs,
        switchAmortization: TIDEPOOL_DEFAULTS.switchAmortization,
        weightsArena: `max(largest model, ${TIDEPOOL_ARENA_SHARE} × memory), at most ${MAX_ARENA_SHARE} × memory; the rest is KV`,
        residency: `evict idle before busy, least asked-for first (arrival rate, ${DEMAND_HALF_LIFE_MS / 1000} s half-life), then least recently run`,
        prefetch: 'the next most urgent absent model, into room that idle models give up, else models with work that run after it (the one needed last first)',
        loadBehind:
          'when the most urgent model is absent and a resident model has work, that model runs while the weights load: ' +
          'for the load, or minTurnMs if the urgent model has the slack; cut if the prefetch finds no room, and then the own turn loads it',
        preemption: "an arrival cuts the turn only when its own first token cannot wait for the turn's end",
      },
      aegaeon: {
        rule:
          "the published scheduler (SOSP'25 artifact): disaggregated prefill and decode instances; grouped FCFS prefill, one request a batch; " +
          'decode rounds re-formed FCFS in a fixed model order, q_i = c0·(1/n_i) / (alpha − Σ 1/n_k), alpha = max(c0 / (min n · QMAX) + Σ 1/n, floor)',
        split: { ...AEGAEON_SPLIT, rule: 'per 8 GPUs; round(GPUs × 3/8) prefill instances (at least one of each), the rest decode' },
        pcieEfficiency: AEGAEON_PCIE_EFFICIENCY,
        alphaFloor: AEGAEON_QUOTA_DEFAULTS.alphaFloor,
        qmaxMs: AEGAEON_QUOTA_DEFAULTS.qmaxMs,
        switchEstimate: {
          rule: 'weight bytes / (PCIe bandwidth × efficiency), for every model of the round, resident or not',
          pcieGBps: artifactPcieBytesPerMs(gpu) / GBPS,
        },
        stepEstimate: "the simulator's calibrated decode step at the batch's size and mean context (the artifact fits its estimator to the same profiles)",
        turn: 'ends at the first token boundary after its quota, counted from the end of its first step',
        prefillGroupSize: AEGAEON_PREFILL_DEFAULTS.groupSize,
        prefillDispatch: 'an instance with an open group of the model, else the fewest waiting requests',
        decodeDispatch: 'the instance with a batch of the model, else the fewest batches',
        kv: 'prefill KV to host memory, then into a decode instance when the request joins its batch; a batch moved out when another batch of its round runs; all at the H2D bandwidth',
        weightSlots: 2,
        weightsArena: `2 × largest model on every instance, at most ${MAX_ARENA_SHARE} × memory`,
        prefetch: 'decode: the next different model of the round; prefill: at a switch, the model of the first later group of another model',
      },
      'aegaeon-unified': {
        rule: 'one GPU prefills and decodes: grouped FCFS prefill groups between decode turns; weighted round-robin decode in key order; q_i = C·(t_i/d_i) / (1 − Σ t_j/d_j), capped',
        groupSize: AEGAEON_UNIFIED_DEFAULTS.groupSize,
        capMs: AEGAEON_UNIFIED_DEFAULTS.capMs,
        switchEstimateInRound: 'bytes / bandwidth + overhead for every batch of the round, resident or not',
        weightSlots: createAegaeonUnifiedPolicy().maxResident,
        weightsArena: `2 × largest model, at most ${MAX_ARENA_SHARE} × memory`,
        prefetch: 'the next batch of the round',
        kv: "every other model's KV parked for a turn",
      },
      'request-level': {
        rule: 'serve one model until none of its requests is left, then load the one with the oldest waiting request',
        weightSlots: createRequestLevelPolicy(false).maxResident,
        weightsArena: `largest model, at most ${MAX_ARENA_SHARE} × memory`,
        keepAlive: 'until another model needs the GPU',
        batching: 'continuous: arrivals join the running batch',
      },
      'request-level+srtf': {
        rule: 'as request-level; next model: the one whose waiting request has the least remaining work (max tokens − delivered, + prompt / 100 before the first token)',
        weightSlots: createRequestLevelPolicy(true).maxResident,
        weightsArena: `largest model, at most ${MAX_ARENA_SHARE} × memory`,
        keepAlive: 'until another model needs the GPU',
      },
      'static-colocation': {
        rule: 'placement once from mean rates: heaviest rate × bytes first, to the least loaded GPU with arena room; placed models stay resident and time-share least slack first',
        maxWeightsShare: 1 - STATIC_MIN_KV_SHARE,
        minTurnMs,
        maxQuotaMs: PINNED_OPTIONS.maxQuotaMs,
        soloQuotaMs: PINNED_OPTIONS.soloQuotaMs,
        preemption: 'an arrival for another placed model cuts an unbounded (solo) turn',
        unplaced: 'functions that fit nowhere are not served (every token missed)',
      },
      dedicated: {
        rule: 'one GPU per function; spare GPUs one by one to the function with the highest rate per GPU',
        weightsArena: "the model's bytes; the rest is KV",
        minTurnMs,
        soloQuotaMs: PINNED_OPTIONS.soloQuotaMs,
      },
    },
  };
}

/** The step-cost fits on `gpu` with their error, and the shapes priced by scaling instead. */
export function costModelReport(gpu: SimGpuSpec): Record<string, unknown> {
  const costs = costsFor(gpu);
  const fits = [...costs.fits.values()]
    .filter((f) => f.points > 0)
    .map((f) => ({
      shape: f.shape,
      gpu: f.gpu,
      points: f.points,
      prefillMeanAbsRelError: f.prefillError,
      decodeMeanAbsRelError: f.decodeError,
      prefillMs: { formula: 'p0 + p1·(B·L) + p2·(B·L²)', coefficients: f.prefill },
      decodeMs: { formula: 'd0 + d1·B + d2·(B·L)', coefficients: f.decode },
    }));
  const derived = DERIVED.filter((d) => costs.calibrated.has(d.shape)).map((d) => ({
    shape: d.shape,
    base: d.base,
    weightRatio: d.factor,
    rule: 'base fit × weight ratio (fixed terms × √ratio); an extrapolation, no fit error',
  }));
  return { calibration: '../shared/calibration/vllm-step-profiles.jsonl', fittedOn: 'per-config medians with B·L ≤ 4096', fits, derived };
}
