import type { WeightsDigest } from '../../protocol/weights-digest.js';
import { planHomes } from '../../protocol/routing/home-plan.js';
import type { PlannedModel } from '../../protocol/routing/home-plan.js';
import { chooseRoute } from '../../protocol/routing/route.js';
import { NODE_ROUTING, createDeviceRouter } from '../device-router.js';
import type { DeviceRouterConfig } from '../device-router.js';

/**
 * How the simulator routes pooled policies: `planned` (the default) is the node's device router with homes
 * planned from every function's mean rate (protocol/routing/home-plan.ts), no preference for a GPU merely
 * holding the weights, and a spill past 2 × the mean owed tokens + 4000; `node` is the device router exactly
 * as a node runs it (`NODE_ROUTING`); or any configuration. docs/scheduler.md measures both.
 */
export type SimRouting = 'planned' | 'node' | DeviceRouterConfig;

export const PLANNED_SPILL = Object.freeze({ spillSlackTokens: 4000, spillMeanFactor: 2 });

export function routingConfig(routing: SimRouting, gpus: number, functions: readonly PlannedModel[]): DeviceRouterConfig {
  if (routing === 'node') return NODE_ROUTING;
  if (routing !== 'planned') return routing;
  const homes = planHomes(gpus, functions);
  return { ...PLANNED_SPILL, preferResident: false, plannedHome: (key) => homes.get(key) };
}

/**
 * Which simulated GPU gets a request. Both cases are configurations of the routing core
 * (protocol/routing/route.ts):
 * - Pooled policies: the node's device router (runtime/device-router.ts), the simulated GPUs being one node's
 *   devices, configured by `SimRouting`.
 * - Placed policies (static-colocation, dedicated): the least loaded of the function's placed GPUs.
 * Mutated by `pick`, `progress`, `finished` and the residency notes.
 */
export interface Router {
  /** The GPU for a request of `key` owing `tokens` output tokens; undefined when the function has no GPU. */
  pick(key: WeightsDigest, tokens: number): number | undefined;
  /** `tokens` were delivered on `gpu`. */
  progress(gpu: number, tokens: number): void;
  /** A request of `key` on `gpu` ended with `undelivered` tokens never produced. */
  finished(gpu: number, key: WeightsDigest, undelivered: number): void;
  /** The scheduler of `gpu` loaded (true) or evicted (false) `key`'s weights. */
  noteResidency(gpu: number, key: WeightsDigest, resident: boolean): void;
}

export function createRouter(
  gpus: number,
  functions: readonly PlannedModel[],
  gpusOf: ((key: WeightsDigest) => readonly number[]) | undefined,
  routing: SimRouting = 'planned',
): Router {
  const resident = Array.from({ length: gpus }, () => new Set<string>());
  const noteResidency = (gpu: number, key: WeightsDigest, on: boolean) => void (on ? resident[gpu]!.add(key) : resident[gpu]!.delete(key));
  if (gpusOf) return placedRouter(gpus, gpusOf, noteResidency);
  const devices = createDeviceRouter(gpus, routingConfig(routing, gpus, functions));
  const view = { resident: (d: number, key: WeightsDigest) => resident[d]!.has(key), up: () => true, residentCount: (d: number) => resident[d]!.size };
  return {
    pick: (key, tokens) => devices.pick(key, tokens, view),
    progress: (gpu, tokens) => devices.progress(gpu, tokens),
    finished: (gpu, key, undelivered) => devices.finished(gpu, key, undelivered),
    noteResidency,
  };
}

function placedRouter(gpus: number, gpusOf: (key: WeightsDigest) => readonly number[], noteResidency: Router['noteResidency']): Router {
  const owed = Array<number>(gpus).fill(0);
  return {
    pick(key, tokens) {
      const allowed = gpusOf(key);
      const choice = chooseRoute(
        allowed.map((g) => ({ tier: 0, load: owed[g]! })),
        { kind: 'none' },
      );
      if (!choice) return undefined;
      const gpu = allowed[choice.index]!;
      owed[gpu]! += tokens;
      return gpu;
    },
    progress: (gpu, tokens) => void (owed[gpu]! -= tokens),
    finished: (gpu, _key, undelivered) => void (owed[gpu]! -= Math.max(0, undelivered)),
    noteResidency,
  };
}
