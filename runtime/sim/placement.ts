import type { WeightsDigest } from '../../protocol/weights-digest.js';
import type { PolicyName } from '../scheduler/types.js';
import type { SimGpuSpec } from './sim-types.js';
import type { SimFunction } from './workloads.js';

/**
 * Which GPUs may serve which function, and how each GPU splits its memory between weights and KV. Pooled
 * policies (tidepool, aegaeon, request-level) may run any function anywhere; the router picks per request.
 * `static-colocation` and `dedicated` decide it here, once, from the functions' mean rates — the plan a
 * MuxServe-style or dedicated deployment makes ahead of time.
 */
export interface Placement {
  /** For each GPU, the bytes of its weights arena (the rest of its memory is the KV pool). */
  readonly arenaBytes: readonly number[];
  /** GPUs allowed to serve a function; undefined means any (pooled). Empty means it was not placed. */
  readonly gpusOf: ((key: WeightsDigest) => readonly number[]) | undefined;
}

/** Share of memory a pooled tidepool GPU gives to weights; the rest is KV. */
export const TIDEPOOL_ARENA_SHARE = 0.65;
/** Most of its memory a pooled GPU gives to weights (any pooled policy): a model larger than this never loads. */
export const MAX_ARENA_SHARE = 0.8;
/** Least KV pool a static GPU keeps, as a share of its memory. */
export const STATIC_MIN_KV_SHARE = 0.25;

export function placeFunctions(policy: PolicyName, functions: readonly SimFunction[], gpus: number, gpu: SimGpuSpec): Placement {
  const largest = Math.max(...functions.map((f) => f.bytes));
  const pooled = (arena: number): Placement => ({ arenaBytes: Array(gpus).fill(Math.min(arena, gpu.memoryBytes * MAX_ARENA_SHARE)), gpusOf: undefined });
  switch (policy) {
    case 'tidepool':
      return pooled(Math.max(largest, gpu.memoryBytes * TIDEPOOL_ARENA_SHARE));
    case 'aegaeon': // each prefill and decode instance (disaggregated-cluster.ts) has the same two slots
    case 'aegaeon-unified':
      return pooled(2 * largest); // the active model and the prefetched next one
    case 'request-level':
    case 'request-level+srtf':
      return pooled(largest); // one model at a time; the rest of the GPU is KV
    case 'dedicated':
      return dedicated(functions, gpus, gpu);
    case 'static-colocation':
      return colocate(functions, gpus, gpu);
  }
}

/** Each function gets one GPU, then spare GPUs go, one by one, to the function with the most rate per GPU. */
function dedicated(functions: readonly SimFunction[], gpus: number, gpu: SimGpuSpec): Placement {
  const order = [...functions].sort((a, b) => b.rate - a.rate || (a.weightsDigest < b.weightsDigest ? -1 : 1));
  const owners: WeightsDigest[] = order.slice(0, gpus).map((f) => f.weightsDigest);
  const replicas = new Map(owners.map((k) => [k, 1]));
  const rate = new Map(functions.map((f) => [f.weightsDigest, f.rate]));
  while (owners.length < gpus && order.length > 0) {
    let best = order[0]!.weightsDigest;
    for (const f of order) if (f.rate / replicas.get(f.weightsDigest)! > rate.get(best)! / replicas.get(best)!) best = f.weightsDigest;
    owners.push(best);
    replicas.set(best, replicas.get(best)! + 1);
  }
  const byKey = new Map<string, number[]>();
  for (const [i, k] of owners.entries()) byKey.set(k, [...(byKey.get(k) ?? []), i]);
  const bytes = new Map(functions.map((f) => [f.weightsDigest, f.bytes]));
  return {
    arenaBytes: Array.from({ length: gpus }, (_, i) => (owners[i] ? bytes.get(owners[i]!)! : gpu.memoryBytes * 0.5)),
    gpusOf: (key) => byKey.get(key) ?? [],
  };
}

/**
 * MuxServe-style: functions, heaviest load first, each go to the GPU with the least load so far whose
 * weights arena still has room (arena ≤ memory less a KV floor). Functions that fit nowhere are not placed.
 */
function colocate(functions: readonly SimFunction[], gpus: number, gpu: SimGpuSpec): Placement {
  const cap = gpu.memoryBytes * (1 - STATIC_MIN_KV_SHARE);
  const used = Array<number>(gpus).fill(0);
  const load = Array<number>(gpus).fill(0);
  const where = new Map<string, number[]>();
  const order = [...functions].sort((a, b) => b.rate * b.bytes - a.rate * a.bytes || (a.weightsDigest < b.weightsDigest ? -1 : 1));
  for (const f of order) {
    let best = -1;
    for (let g = 0; g < gpus; g++) {
      if (used[g]! + f.bytes > cap) continue;
      if (best < 0 || load[g]! < load[best]!) best = g;
    }
    if (best < 0) continue;
    used[best]! += f.bytes;
    load[best]! += f.rate * f.bytes;
    where.set(f.weightsDigest, [best]);
  }
  return { arenaBytes: used.map((u) => Math.max(u, 1)), gpusOf: (key) => where.get(key) ?? [] };
}
