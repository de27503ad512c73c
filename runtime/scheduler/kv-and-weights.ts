import { EngineError } from '../engine/engine.js';
import type { Engine } from '../engine/engine.js';
import type { Clock } from './clock.js';
import type { DemandTracker } from './demand.js';
import type { SchedulerPolicy } from './policy.js';
import { chooseVictim, residentCount } from './residency.js';
import type { ModelState } from './state.js';
import type { SchedulerEvent } from './types.js';

/**
 * GPU residency and KV movement, carried out on the engine. The loop owns when; this file owns how. All
 * weight loads and evicts go through one lock so a prefetch and a turn's own load never race.
 */
export interface ResidencyDeps {
  readonly engine: Engine;
  readonly clock: Clock;
  readonly policy: SchedulerPolicy;
  readonly models: Map<string, ModelState>;
  readonly emit: (e: SchedulerEvent) => void;
  /** Arrival rates per model: the victim is the least asked-for model, so hot weights stay. */
  readonly demand: DemandTracker;
  /** The model of the turn running now, if any: never pushed out by a prefetch planned before that turn. */
  readonly runningModel: () => string | undefined;
}

export interface Residency {
  /**
   * Makes `model` resident, evicting per policy and on `out_of_memory`: the least asked-for model outside
   * `protect` goes first, least recently run among equals (idle ones before busy ones, whose KV is parked
   * first). A prefetch pushes out only idle models, then those in `evictable` (in that order); it gives up
   * (false) when that does not make room, and marks the model `prefetchBlocked` until its weights come in.
   * A turn's load throws the engine's error. Mutates residency records.
   */
  ensureResident(model: ModelState, protect: ReadonlySet<string>, prefetch: boolean, evictable?: readonly string[]): Promise<boolean>;
  /** Moves the KV of a model's decoding sequences to host memory. Never throws. */
  park(model: ModelState): Promise<void>;
  /** Brings a model's parked KV back. Sequences that do not fit stay parked. Never throws. */
  restore(model: ModelState): Promise<void>;
  /** Evicts a model that is resident with no requests (GPU idle timeout); no-op otherwise. Rejects on engine errors. */
  evictIfIdle(model: ModelState): Promise<void>;
}

export function createResidency(deps: ResidencyDeps): Residency {
  const { engine, clock, policy, models, emit, demand, runningModel } = deps;
  const keepValue = (m: Readonly<ModelState>) => demand.ratePerS(m.ref.weightsDigest, clock.now());
  let lock: Promise<unknown> = Promise.resolve();

  const withLock = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = lock.then(fn, fn);
    lock = next.catch(() => undefined);
    return next;
  };

  async function park(model: ModelState): Promise<void> {
    const ids = [...model.requests.values()].filter((r) => r.phase === 'added' && r.tokens > 0).map((r) => r.request.id);
    if (ids.length === 0) return;
    const started = clock.now();
    const moved = await Promise.all(
      ids.map((id) =>
        engine.park(id).then(
          (res) => res.bytes,
          () => -1,
        ),
      ),
    );
    let bytes = 0;
    let sequences = 0;
    moved.forEach((b, i) => {
      const r = model.requests.get(ids[i]!);
      if (b < 0 || !r) return;
      r.phase = 'parked';
      bytes += b;
      sequences++;
    });
    emit({ type: 'park', atMs: clock.now(), weightsDigest: model.ref.weightsDigest, sequences, bytes, ms: clock.now() - started });
  }

  async function restore(model: ModelState): Promise<void> {
    const ids = [...model.requests.values()].filter((r) => r.phase === 'parked').map((r) => r.request.id);
    if (ids.length === 0) return;
    const started = clock.now();
    let bytes = 0;
    let sequences = 0;
    // One at a time: a restore that does not fit must not be followed by smaller ones jumping the queue.
    for (const id of ids) {
      const res = await engine.restore(id).catch(() => undefined);
      if (!res) break;
      const r = model.requests.get(id);
      if (r) r.phase = 'added';
      bytes += res.bytes;
      sequences++;
    }
    emit({ type: 'restore', atMs: clock.now(), weightsDigest: model.ref.weightsDigest, sequences, bytes, ms: clock.now() - started });
  }

  async function evict(victim: ModelState): Promise<void> {
    await park(victim);
    await engine.evict(victim.ref.weightsDigest);
    victim.residency = 'absent';
    emit({ type: 'evict', atMs: clock.now(), weightsDigest: victim.ref.weightsDigest });
    if (victim.requests.size === 0) models.delete(victim.ref.weightsDigest);
  }

  /** The first model of `evictable` that may go now: resident, not protected, not running a turn. */
  function listedVictim(evictable: readonly string[], guard: ReadonlySet<string>): ModelState | undefined {
    for (const key of evictable) {
      const m = models.get(key);
      if (m && m.residency === 'resident' && !guard.has(key) && key !== runningModel()) return m;
    }
    return undefined;
  }

  /** A prefetch gave up: the policy learns that this model's weights only come in with its own turn. */
  function blocked(model: ModelState): false {
    model.prefetchBlocked = true;
    return false;
  }

  async function load(model: ModelState, protect: ReadonlySet<string>, prefetch: boolean, evictable: readonly string[]): Promise<boolean> {
    const guard = new Set(protect).add(model.ref.weightsDigest);
    for (;;) {
      if (model.residency === 'resident') return true;
      const max = policy.maxResident;
      if (max !== undefined && residentCount(models.values()) >= max) {
        const victim = chooseVictim(models.values(), guard, true, keepValue);
        if (!victim) {
          if (prefetch) return blocked(model);
          throw new EngineError('out_of_memory', `no model can give up its slot for ${model.ref.weightsDigest}`);
        }
        await evict(victim as ModelState);
        continue;
      }
      model.residency = 'loading';
      try {
        const res = await engine.load(model.ref);
        model.residency = 'resident';
        model.prefetchBlocked = false;
        model.lastRunMs = clock.now();
        emit({ type: 'load', atMs: clock.now(), weightsDigest: model.ref.weightsDigest, ms: res.ms, cached: res.cached, prefetch });
        return true;
      } catch (err) {
        model.residency = 'absent';
        // Out of arena: a turn's own load may push out a busy model (parking its KV); a prefetch an idle one, or
        // one the policy listed as not needed before the prefetched model (TurnPlan.prefetchEvictable).
        const oom = err instanceof EngineError && err.code === 'out_of_memory';
        const victim = !oom
          ? undefined
          : prefetch
            ? (chooseVictim(models.values(), guard, false, keepValue) ?? listedVictim(evictable, guard))
            : chooseVictim(models.values(), guard, true, keepValue);
        if (!victim) {
          if (prefetch) return blocked(model);
          throw err;
        }
        await evict(victim as ModelState);
      }
    }
  }

  /** Evicts `model` if it is still resident and idle once the lock is free (GPU idle timeout). */
  const evictIfIdle = (model: ModelState): Promise<void> =>
    withLock(async () => {
      if (model.residency === 'resident' && model.requests.size === 0) await evict(model);
    });

  return {
    evictIfIdle,
    ensureResident: (model, protect, prefetch, evictable = []) =>
      model.residency === 'resident' ? Promise.resolve(true) : withLock(() => load(model, protect, prefetch, evictable)),
    park,
    restore,
  };
}
