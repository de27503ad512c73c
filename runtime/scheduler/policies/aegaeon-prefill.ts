import type { SchedulerPolicy, SchedulerView, TurnPlan } from '../policy.js';
import type { WeightsDigest } from '../../../protocol/weights-digest.js';

export interface AegaeonPrefillOptions {
  /** Most requests of one model in a group (the artifact's `max_group_size`, 8). */
  readonly groupSize: number;
}

export const AEGAEON_PREFILL_DEFAULTS: AegaeonPrefillOptions = Object.freeze({ groupSize: 8 });

/** A prefill instance's policy, with the queue operations its dispatcher uses. */
export interface AegaeonPrefillPolicy extends SchedulerPolicy {
  /**
   * Queues a request as the artifact's dispatcher hands it over: into the first group of its model that has
   * room, else into a new group at the end of the queue. Call before submitting it to the scheduler.
   */
  enqueue(id: number, weightsDigest: WeightsDigest): void;
  /** A group of `weightsDigest` has room: the dispatcher sends the model's requests to such an instance first. */
  hasOpenGroup(weightsDigest: WeightsDigest): boolean;
  /** Requests waiting for their prefill. */
  waiting(): number;
}

interface Group {
  readonly weightsDigest: WeightsDigest;
  readonly ids: number[];
}

/**
 * A prefill instance of the published Aegaeon (SOSP'25 artifact, `aegaeon/prefill_scheduler.py`,
 * `PrefillStageUniBatchScheduler`): a FCFS queue of groups, each of up to 8 requests of one model. Every
 * prefill batch is one request, the head of the first group; a group leaves the queue when its last request
 * does, and while it waits it takes in new requests of its model up to the size limit. The weights switch
 * only when the next request's model differs from the loaded one, and such a switch prefetches the model of
 * the first later group of another model. Each request runs one step (its prefill, which produces its first
 * token); runtime/sim/disaggregated-cluster.ts then moves its KV to host memory for a decode instance.
 * Requests submitted without `enqueue` are queued in arrival order when the next turn is planned.
 * Mutates only its queue.
 */
export function createAegaeonPrefillPolicy(options: Partial<AegaeonPrefillOptions> = {}): AegaeonPrefillPolicy {
  const o = { ...AEGAEON_PREFILL_DEFAULTS, ...options };
  const groups: Group[] = [];
  const known = new Set<number>();

  function enqueue(id: number, weightsDigest: WeightsDigest): void {
    if (known.has(id)) return;
    known.add(id);
    const open = groups.find((g) => g.weightsDigest === weightsDigest && g.ids.length < o.groupSize);
    if (open) open.ids.push(id);
    else groups.push({ weightsDigest: weightsDigest, ids: [id] });
  }

  /** Drops requests that left (cancelled, failed) and queues any that came in without `enqueue`. */
  function sync(view: SchedulerView): void {
    const queued = (key: string, id: number) => view.models.get(key)?.requests.get(id)?.phase === 'queued';
    for (let i = groups.length - 1; i >= 0; i--) {
      const g = groups[i]!;
      for (let j = g.ids.length - 1; j >= 0; j--) if (!queued(g.weightsDigest, g.ids[j]!)) known.delete(g.ids.splice(j, 1)[0]!);
      if (g.ids.length === 0) groups.splice(i, 1);
    }
    const strays = [...view.models.values()].flatMap((m) =>
      [...m.requests.values()].filter((r) => r.phase === 'queued' && !known.has(r.request.id)).map((r) => ({ r, key: m.ref.weightsDigest })),
    );
    strays.sort((a, b) => a.r.arrivalMs - b.r.arrivalMs || a.r.request.id - b.r.request.id);
    for (const { r, key } of strays) enqueue(r.request.id, key);
  }

  function planTurn(view: SchedulerView): TurnPlan | undefined {
    sync(view);
    const head = groups[0];
    if (!head || view.stalled.has(head.weightsDigest)) return undefined;
    const id = head.ids.shift()!;
    known.delete(id);
    if (head.ids.length === 0) groups.shift();
    const switching = view.current !== head.weightsDigest || view.models.get(head.weightsDigest)?.residency !== 'resident';
    const next = switching ? groups.find((g) => g.weightsDigest !== head.weightsDigest) : undefined;
    const prefetch = next && view.models.get(next.weightsDigest)?.residency === 'absent' ? next.weightsDigest : undefined;
    return { weightsDigest: head.weightsDigest, parkOthers: false, admit: [id], maxSteps: 1, quotaMs: 0, ...(prefetch === undefined ? {} : { prefetch }) };
  }

  return {
    name: 'aegaeon-prefill',
    maxResident: 2,
    joinRunningTurn: false,
    planTurn,
    shouldPreempt: () => false,
    enqueue,
    hasOpenGroup: (weightsDigest) => groups.some((g) => g.weightsDigest === weightsDigest && g.ids.length < o.groupSize),
    waiting: () => groups.reduce((n, g) => n + g.ids.length, 0),
  };
}
