/**
 * What a turn, a prefill or a switch will cost, as the policies estimate it before acting. Estimates start
 * from configured priors and follow observed turns (exponentially weighted), so the same code is right for
 * the real engine and the simulator without knowing either's internals.
 */
import type { WeightsDigest } from '../../protocol/weights-digest.js';
export interface CostOptions {
  /** Host-to-device bandwidth for weight loads, bytes per ms (50 GB/s ≈ 5e7). */
  readonly h2dBytesPerMs: number;
  /** Fixed cost of a switch beyond the copy, ms. */
  readonly switchOverheadMs: number;
  /** Prior decode step time per weight byte, ms/byte (memory-bound decode). */
  readonly decodeMsPerWeightByte: number;
  /** Prior prefill time per prompt token per weight byte, ms. */
  readonly prefillMsPerTokenWeightByte: number;
  /** Weight of a new observation in the running average, 0..1. */
  readonly smoothing: number;
  /**
   * Shortest turn a policy grants while others wait, ms. 250 ms keeps the per-turn overhead of a real
   * engine (a round trip, KV bookkeeping) small beside the turn on a GPU; an engine with sub-millisecond
   * steps (the CPU backend on tiny models) may lower it to get token-level turns.
   */
  readonly minTurnMs: number;
  /**
   * How far a switch may run past its estimate (`loadMs`) before the scheduler reports it as an overrun, ms:
   * the `switch` event compares the clock time from the turn's plan to resident weights with
   * `loadMs(bytes) + switchSlackMs`. Copies queued on the same stream (KV parked for an eviction, a prefetch
   * in flight) are what a switch may wait for beyond its own copy. The scheduler's tests hold the loop to it.
   */
  readonly switchSlackMs: number;
  /**
   * Weights of a model with no requests leave the GPU after this long without a turn, ms. Infinity (the
   * scheduler's default, and the simulator's) keeps them until memory is needed; the node runtime sets
   * 60 s so an idle function scales to zero (its host copy then follows after `keep_warm_ms`).
   */
  readonly gpuIdleEvictMs: number;
}

export const DEFAULT_COSTS: CostOptions = Object.freeze({
  h2dBytesPerMs: 5e7,
  switchOverheadMs: 20,
  // ≈ 9.3 ms for 15.2 GB (Qwen2.5-7B decode on H100, vLLM eager)
  decodeMsPerWeightByte: 9.3 / 15.2e9,
  // ≈ 24.9 ms for 1024 tokens of a 15.2 GB model
  prefillMsPerTokenWeightByte: 24.9 / 1024 / 15.2e9,
  smoothing: 0.2,
  minTurnMs: 250,
  switchSlackMs: 50,
  gpuIdleEvictMs: Number.POSITIVE_INFINITY,
});

export interface CostEstimator {
  readonly options: CostOptions;
  /** Estimated ms of one decode step of `modelBytes` weights (batch-size effects are folded into the average). */
  decodeStepMs(weightsDigest: WeightsDigest, modelBytes: number): number;
  /** Estimated ms to prefill `tokens` prompt tokens. */
  prefillMs(weightsDigest: WeightsDigest, modelBytes: number, tokens: number): number;
  /** Estimated ms to page `bytes` of weights in: bytes / bandwidth + fixed overhead. */
  loadMs(bytes: number): number;
  /** Feeds a finished turn (ms per step, prefill steps included) back into the estimate. Mutates the estimator. */
  observeTurn(weightsDigest: WeightsDigest, steps: number, ms: number): void;
}

export function createCostEstimator(options: Partial<CostOptions> = {}): CostEstimator {
  const o: CostOptions = Object.freeze({ ...DEFAULT_COSTS, ...options });
  const stepMs = new Map<string, number>();
  return {
    options: o,
    decodeStepMs: (key, bytes) => stepMs.get(key) ?? bytes * o.decodeMsPerWeightByte,
    prefillMs: (_key, bytes, tokens) => Math.max(bytes * o.decodeMsPerWeightByte, tokens * bytes * o.prefillMsPerTokenWeightByte),
    loadMs: (bytes) => bytes / o.h2dBytesPerMs + o.switchOverheadMs,
    observeTurn(key, steps, ms) {
      if (steps <= 0 || ms <= 0) return;
      const sample = ms / steps;
      const prev = stepMs.get(key);
      stepMs.set(key, prev === undefined ? sample : prev + o.smoothing * (sample - prev));
    },
  };
}
