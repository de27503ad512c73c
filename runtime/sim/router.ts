import { chooseRoute } from '../../protocol/routing/route.js';
import { NODE_ROUTING, createDeviceRouter } from '../device-router.js';
import type { DeviceRouterConfig } from '../device-router.js';

/**
 * Which simulated GPU gets a request. Both cases are configurations of the routing core
 * (protocol/routing/route.ts):
 * - Pooled policies: the node's own device router (runtime/device-router.ts) with a node's settings, the
 *   simulated GPUs being one node's devices: join a GPU running the model's requests, else one holding its
 *   weights, else its home (where it last went), else the GPU owing the fewest tokens; spill past 4000 tokens
 *   over the least loaded GPU.
 * - Placed policies (static-colocation, dedicated): the least loaded of the function's placed GPUs.
 * Mutated by `pick`, `progress`, `finished` and the residency notes.
 */
export interface Router {
  /** The GPU for a request of `key` owing `tokens` output tokens; undefined when the function has no GPU. */
  pick(key: string, tokens: number): number | undefined;
  /** `tokens` were delivered on `gpu`. */
  progress(gpu: number, tokens: number): void;
  /** A request of `key` on `gpu` ended with `undelivered` tokens never produced. */
  finished(gpu: number, key: string, undelivered: number): void;
  /** The scheduler of `gpu` loaded (true) or evicted (false) `key`'s weights. */
  noteResidency(gpu: number, key: string, resident: boolean): void;
}

export function createRouter(
  gpus: number,
  gpusOf: ((key: string) => readonly number[]) | undefined,
  config: DeviceRouterConfig = NODE_ROUTING,
): Router {
  const resident = Array.from({ length: gpus }, () => new Set<string>());
  const noteResidency = (gpu: number, key: string, on: boolean) => void (on ? resident[gpu]!.add(key) : resident[gpu]!.delete(key));
  if (gpusOf) return placedRouter(gpus, gpusOf, noteResidency);
  const devices = createDeviceRouter(gpus, config);
  const view = { resident: (d: number, key: string) => resident[d]!.has(key), up: () => true, residentCount: (d: number) => resident[d]!.size };
  return {
    pick: (key, tokens) => devices.pick(key, tokens, view),
    progress: (gpu, tokens) => devices.progress(gpu, tokens),
    finished: (gpu, key, undelivered) => devices.finished(gpu, key, undelivered),
    noteResidency,
  };
}

function placedRouter(gpus: number, gpusOf: (key: string) => readonly number[], noteResidency: Router['noteResidency']): Router {
  const owed = Array<number>(gpus).fill(0);
  return {
    pick(key, tokens) {
      const allowed = gpusOf(key);
      const choice = chooseRoute(allowed.map((g) => ({ tier: 0, load: owed[g]! })), { kind: 'none' });
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
