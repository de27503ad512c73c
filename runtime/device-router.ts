import { chooseRoute, type RouteCandidate } from '../protocol/routing/route.js';
import type { WeightsDigest } from '../protocol/weights-digest.js';

/**
 * Which of a node's devices (its GPUs, or its CPU engines) serves a request: the node's configuration of the
 * routing core (protocol/routing/route.ts). Tiers, in order:
 * - 0: a device already running requests of the model: its weights are hot there and the request joins the
 *   batch (continuous batching beats a second copy of the weights);
 * - 1: a device where the model's weights are resident;
 * - 2: the model's home: the device it last ran on, whose host mapping is still warm;
 * - 3: any other device; for a model seen for the first time that is the device owing the fewest output
 *   tokens, and among equals the one holding the fewest models, so idle GPUs fill before one has to switch.
 * Load is the output tokens a device still owes. A choice that owes more than `spillSlackTokens` beyond the
 * least loaded device (or beyond `spillMeanFactor` × the mean, when that is more) spills to the least loaded
 * one, which is how a popular model spreads over several GPUs. Devices whose engine is down are avoided while
 * another is up.
 *
 * The simulator routes its GPUs with this same router (runtime/sim/router.ts), with homes it plans from every
 * function's rate (`plannedHome`). Mutated by `pick`, `progress` and `finished`; single-threaded like the rest
 * of the node.
 */
export interface DeviceRouter {
  /** The device for a request of `weightsDigest` that owes `tokens` output tokens. */
  pick(weightsDigest: WeightsDigest, tokens: number, device: DeviceView): number;
  /** `tokens` were delivered on `device`. */
  progress(device: number, tokens: number): void;
  /** A request of `weightsDigest` on `device` ended with `undelivered` of its tokens never produced. */
  finished(device: number, weightsDigest: WeightsDigest, undelivered: number): void;
  /** Output tokens each device still owes, by index. */
  owed(): readonly number[];
}

/** What the router may ask about a device when it picks. */
export interface DeviceView {
  /** The model's weights sit in a slot of this device. */
  resident(device: number, weightsDigest: WeightsDigest): boolean;
  /** The device's engine is running (not restarting). */
  up(device: number): boolean;
  /** Models whose weights sit in slots of this device. */
  residentCount(device: number): number;
}

export interface DeviceRouterConfig {
  /**
   * Spill when the choice owes this many output tokens beyond the least loaded device: about a second of a
   * 7B model's batched decode on an H100, several times what copying its weights from host memory costs.
   */
  readonly spillSlackTokens: number;
  /** ... or beyond this multiple of the mean owed, when that is more (0: the least loaded device alone). */
  readonly spillMeanFactor: number;
  /** Tier 1 exists: a device holding the model's weights comes before its home. */
  readonly preferResident: boolean;
  /**
   * Homes planned ahead (a caller that knows every model's rate up front may balance them); a planned home
   * stays the model's home. Without one, a model's home is the device it was last sent to.
   */
  readonly plannedHome?: (weightsDigest: WeightsDigest) => number | undefined;
}

export const NODE_ROUTING: DeviceRouterConfig = Object.freeze({ spillSlackTokens: 4000, spillMeanFactor: 0, preferResident: true });

export function createDeviceRouter(devices: number, config: DeviceRouterConfig = NODE_ROUTING): DeviceRouter {
  if (!Number.isInteger(devices) || devices < 1) throw new Error(`a node needs at least one device, got ${devices}`);
  const owed = Array<number>(devices).fill(0);
  /** Requests in flight per model per device. */
  const live = new Map<string, number[]>();
  const learnedHomes = new Map<string, number>();
  const spill = { kind: 'overloaded', slack: config.spillSlackTokens, meanFactor: config.spillMeanFactor } as const;
  const homeOf = (weightsDigest: WeightsDigest) => config.plannedHome?.(weightsDigest) ?? learnedHomes.get(weightsDigest);

  function tierOf(d: number, weightsDigest: WeightsDigest, home: number | undefined, view: DeviceView): number {
    if ((live.get(weightsDigest)?.[d] ?? 0) > 0) return 0;
    if (config.preferResident && view.resident(d, weightsDigest)) return 1;
    return d === home ? 2 : 3;
  }

  return {
    pick(weightsDigest, tokens, view) {
      const home = homeOf(weightsDigest);
      const candidates: RouteCandidate[] = [];
      for (let d = 0; d < devices; d++) {
        const tier = tierOf(d, weightsDigest, home, view);
        candidates.push({ tier, load: owed[d]!, up: view.up(d), tiebreak: tier === 3 ? view.residentCount(d) : 0 });
      }
      const device = chooseRoute(candidates, spill)!.index;
      const counts = live.get(weightsDigest) ?? Array<number>(devices).fill(0);
      counts[device]!++;
      live.set(weightsDigest, counts);
      learnedHomes.set(weightsDigest, device);
      owed[device]! += tokens;
      return device;
    },
    progress(device, tokens) {
      owed[device]! -= tokens;
    },
    finished(device, weightsDigest, undelivered) {
      owed[device]! -= Math.max(0, undelivered);
      const counts = live.get(weightsDigest);
      if (counts && counts[device]! > 0) counts[device]!--;
      if (counts?.every((c) => c === 0)) live.delete(weightsDigest);
    },
    owed: () => owed,
  };
}
