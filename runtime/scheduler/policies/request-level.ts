import type { SchedulerPolicy, SchedulerView } from '../policy.js';
import type { ModelState, RequestState } from '../state.js';
import { queuedIds } from '../urgency.js';

/**
 * Request-level switching as in ServerlessLLM: a GPU holds one model and serves it — with continuous
 * batching of that model's requests, arrivals joining the running batch — until none of its requests is
 * left; only then does it switch, loading the next model from host memory at the engine's bandwidth. The
 * model stays loaded after its last request (keep-alive) until another model needs the GPU.
 * Next model: the one with the oldest waiting request (FCFS), or with `srtf` the one whose waiting request
 * has the least remaining work (prompt + max tokens: shortest remaining time first).
 */
export function createRequestLevelPolicy(srtf = false): SchedulerPolicy {
  return {
    name: srtf ? 'request-level+srtf' : 'request-level',
    maxResident: 1,
    joinRunningTurn: true,
    planTurn(view) {
      const cur = view.current === undefined ? undefined : view.models.get(view.current);
      const model = cur && cur.requests.size > 0 && !view.stalled.has(cur.ref.weightsDigest) ? cur : pickNext(view, srtf);
      if (!model) return undefined;
      return {
        weightsDigest: model.ref.weightsDigest,
        parkOthers: false,
        admit: queuedIds(model),
        maxSteps: Number.MAX_SAFE_INTEGER,
        quotaMs: Number.POSITIVE_INFINITY,
      };
    },
    shouldPreempt: () => false,
  };
}

function pickNext(view: SchedulerView, srtf: boolean): Readonly<ModelState> | undefined {
  let best: { model: Readonly<ModelState>; score: number } | undefined;
  for (const m of view.models.values()) {
    if (m.requests.size === 0 || view.stalled.has(m.ref.weightsDigest)) continue;
    const score = srtf ? minRemaining(m) : oldestArrival(m);
    if (!best || score < best.score) best = { model: m, score };
  }
  return best?.model;
}

function oldestArrival(m: Readonly<ModelState>): number {
  const first = m.requests.values().next().value as RequestState | undefined;
  return first ? first.arrivalMs : Number.POSITIVE_INFINITY;
}

function minRemaining(m: Readonly<ModelState>): number {
  let best = Number.POSITIVE_INFINITY;
  for (const r of m.requests.values()) {
    best = Math.min(best, r.request.sampling.max_tokens - r.tokens + (r.tokens === 0 ? r.request.promptTokens.length / 100 : 0));
  }
  return best;
}
