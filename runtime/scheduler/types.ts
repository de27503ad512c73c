import type { ModelRef } from '../engine/engine.js';
import type { SamplingParams } from '../../protocol/sampling.js';
import type { Slo } from '../../protocol/slo.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** One generation as the node runtime hands it to a GPU's scheduler. */
export interface GenerationRequest {
  /** Engine sequence id, unique per node. */
  readonly id: number;
  readonly functionName: string;
  readonly model: ModelRef;
  readonly promptTokens: readonly number[];
  readonly sampling: SamplingParams;
  readonly stopTokenIds: readonly number[];
  readonly slo: Slo;
}

/**
 * A request's n choices on one prompt (n > 1) as one unit. The loop hands them to the engine in one
 * `addGroup` (one prefill whose KV the engine forks) and otherwise tracks each member as a request of its own
 * (a `GenerationRequest` with the member's id and seed): batches, KV and deadlines count n sequences, a
 * queued group's prefill counts once.
 */
export interface GenerationGroup extends Omit<GenerationRequest, 'id'> {
  /** Engine sequence ids (unique per node) and seeds, choice 0 first; choice 0's seed is `sampling.seed`. */
  readonly members: readonly { readonly id: number; readonly seed: number }[];
}

export type { PolicyName } from '../../protocol/policy-names.js';
export { NODE_POLICY_NAMES, POLICY_NAMES } from '../../protocol/policy-names.js';

export interface ModelSnapshot {
  readonly weightsDigest: WeightsDigest;
  readonly functionName: string;
  /** Weights are on the GPU (loaded, not loading). */
  readonly resident: boolean;
  /** Submitted, not yet handed to the engine. */
  readonly queued: number;
  /** Handed to the engine with KV on the device (waiting for admission or decoding). */
  readonly running: number;
  /** KV parked in host memory between turns. */
  readonly parked: number;
}

export interface SchedulerSnapshot {
  readonly policy: string;
  readonly models: readonly ModelSnapshot[];
}

/** What the loop did, for metrics and the timeline. `atMs` is on the scheduler's clock. */
export type SchedulerEvent =
  | {
      readonly type: 'load';
      readonly atMs: number;
      readonly weightsDigest: WeightsDigest;
      readonly ms: number;
      readonly cached: boolean;
      readonly prefetch: boolean;
    }
  | { readonly type: 'evict'; readonly atMs: number; readonly weightsDigest: WeightsDigest }
  /**
   * The loop made `to` the running model. `ms`: clock time from the turn's plan to resident weights (0 when they
   * already were); `estimateMs`: what the policy was told it would cost (`costs.loadMs` when the weights were
   * absent, else 0); `overrun`: `ms` exceeded the estimate by more than `costs.switchSlackMs`.
   */
  | {
      readonly type: 'switch';
      readonly atMs: number;
      readonly from: WeightsDigest | undefined;
      readonly to: WeightsDigest;
      readonly ms: number;
      readonly estimateMs: number;
      readonly overrun: boolean;
    }
  | {
      /** A model's KV moved out to host memory (park) or back in (restore): the same facts either way. */
      readonly type: 'park' | 'restore';
      readonly atMs: number;
      readonly weightsDigest: WeightsDigest;
      readonly sequences: number;
      readonly bytes: number;
      readonly ms: number;
    }
  | {
      readonly type: 'turn';
      readonly atMs: number;
      readonly weightsDigest: WeightsDigest;
      readonly steps: number;
      readonly quotaSteps: number;
      readonly reason: string;
      readonly ms: number;
    }
  | { readonly type: 'error'; readonly atMs: number; readonly weightsDigest: WeightsDigest; readonly message: string };
