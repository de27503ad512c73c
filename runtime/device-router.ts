/**
 * Which of a node's devices (its GPUs, or its CPU engines) serves a request. In order:
 * - a device already running requests of the model: its weights are hot there and the request joins the
 *   batch (continuous batching beats a second copy of the weights);
 * - a device where the model's weights are resident;
 * - the model's home: the device it last ran on, whose host mapping is still warm;
 * - for a model seen for the first time, the device that owes the fewest output tokens, and among equals
 *   the one holding the fewest models, so idle GPUs fill before one of them has to switch.
 * A choice that owes far more tokens than the node's average spills to the least loaded device, which is how
 * a popular model spreads over several GPUs. Devices whose engine is down are avoided while another is up.
 *
 * The simulator's router (runtime/sim/router.ts) differs on purpose: it knows every function's rate up front
 * and assigns homes by expected load; a node learns its models as requests arrive. Mutated by `pick`,
 * `progress` and `finished`; single-threaded like the rest of the node.
 */
export interface DeviceRouter {
  /** The device for a request of `modelKey` that owes `tokens` output tokens. */
  pick(modelKey: string, tokens: number, device: DeviceView): number;
  /** `tokens` were delivered on `device`. */
  progress(device: number, tokens: number): void;
  /** A request of `modelKey` on `device` ended with `undelivered` of its tokens never produced. */
  finished(device: number, modelKey: string, undelivered: number): void;
  /** Output tokens each device still owes, by index. */
  owed(): readonly number[];
}

/** What the router may ask about a device when it picks. */
export interface DeviceView {
  /** The model's weights sit in a slot of this device. */
  resident(device: number, modelKey: string): boolean;
  /** The device's engine is running (not restarting). */
  up(device: number): boolean;
  /** Models whose weights sit in slots of this device. */
  residentCount(device: number): number;
}

/**
 * Spill when the chosen device owes this many more output tokens than the least loaded one: about a second
 * of a 7B model's batched decode on an H100, several times what copying its weights from host memory costs.
 * (A multiple of the mean, as the simulator uses over 16+ GPUs, never fires on a node of two.)
 */
const SPILL_SLACK_TOKENS = 4000;

export function createDeviceRouter(devices: number): DeviceRouter {
  if (!Number.isInteger(devices) || devices < 1) throw new Error(`a node needs at least one device, got ${devices}`);
  const owed = Array<number>(devices).fill(0);
  /** Requests in flight per model per device. */
  const live = new Map<string, number[]>();
  const homes = new Map<string, number>();
  const all = Array.from({ length: devices }, (_, i) => i);

  const leastLoaded = (choices: readonly number[]): number =>
    choices.reduce((best, d) => (owed[d]! < owed[best]! ? d : best), choices[0]!);

  function preferred(modelKey: string, candidates: readonly number[], view: DeviceView): number {
    const inFlight = live.get(modelKey);
    const running = candidates.filter((d) => (inFlight?.[d] ?? 0) > 0);
    if (running.length > 0) return leastLoaded(running);
    const resident = candidates.filter((d) => view.resident(d, modelKey));
    if (resident.length > 0) return leastLoaded(resident);
    const home = homes.get(modelKey);
    if (home !== undefined && candidates.includes(home)) return home;
    const least = Math.min(...candidates.map((d) => owed[d]!));
    const idle = candidates.filter((d) => owed[d] === least);
    return idle.reduce((best, d) => (view.residentCount(d) < view.residentCount(best) ? d : best), idle[0]!);
  }

  return {
    pick(modelKey, tokens, view) {
      const up = all.filter((d) => view.up(d));
      const candidates = up.length > 0 ? up : all;
      let device = preferred(modelKey, candidates, view);
      const idlest = leastLoaded(candidates);
      if (owed[device]! - owed[idlest]! > SPILL_SLACK_TOKENS) device = idlest;
      const counts = live.get(modelKey) ?? Array<number>(devices).fill(0);
      counts[device]!++;
      live.set(modelKey, counts);
      homes.set(modelKey, device);
      owed[device]! += tokens;
      return device;
    },
    progress(device, tokens) {
      owed[device]! -= tokens;
    },
    finished(device, modelKey, undelivered) {
      owed[device]! -= Math.max(0, undelivered);
      const counts = live.get(modelKey);
      if (counts && counts[device]! > 0) counts[device]!--;
      if (counts?.every((c) => c === 0)) live.delete(modelKey);
    },
    owed: () => owed,
  };
}
