/**
 * A node's live load and memory picture, for operators (`GET /v1/ops/state`, `tidepool top`). Read on
 * demand, never on the request path; every number is a snapshot taken when `stats()` answered.
 */
import type { WeightsDigest } from './weights-digest.js';
export interface NodeStats {
  /** Requests per (function, model) this node has served: waiting for their first token, and generating. */
  readonly functions: readonly NodeFunctionLoad[];
  /** One entry per engine (one engine per GPU; the CPU backend reports its one engine as index 0). */
  readonly gpus: readonly NodeGpuStats[];
  /** Shared-memory tier holding warm weights. */
  readonly hostPool: { readonly capacityBytes: number; readonly usedBytes: number };
}

export interface NodeFunctionLoad {
  readonly functionName: string;
  readonly weightsDigest: WeightsDigest;
  readonly queued: number;
  readonly running: number;
}

/**
 * One engine's device reservation, split as the engine plans it:
 * `memoryBytes = weightsBytes + kvBytes + scratchBytes + freeBytes`, where `freeBytes` is the unused part of
 * the weights arena (room for another model slot) and `kvBytes` the whole paged KV pool, `kvUsedBytes` of it
 * holding live sequences.
 */
export interface NodeGpuStats {
  readonly index: number;
  /** Device name from the engine's `hello` (e.g. `NVIDIA H100 80GB HBM3`, or the CPU model). */
  readonly name: string;
  readonly memoryBytes: number;
  readonly weightsBytes: number;
  readonly kvBytes: number;
  readonly kvUsedBytes: number;
  readonly scratchBytes: number;
  readonly freeBytes: number;
  /** Functions whose weights sit in a model slot of this engine. */
  readonly resident: readonly string[];
  /** False while the engine restarts: the byte counts are then zero. */
  readonly up: boolean;
}
