import type { SequenceSink } from '../engine/engine.js';
import type { SchedulerEvent } from '../scheduler/types.js';
import { SpanRing } from './span-ring.js';
import type { NodeTimeline, TimelineGpu, TimelineSpan } from '../../protocol/timeline-types.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

export interface TimelineRecorderOptions {
  readonly nodeId: string;
  readonly gpus: readonly TimelineGpu[];
  /** Function name(s) for a model key (artifact digest); the key itself when unknown. */
  readonly functionOf: (weightsDigest: WeightsDigest) => string;
  /** Weight bytes of a model, for load and prefetch spans; 0 when unknown. */
  readonly bytesOf?: (weightsDigest: WeightsDigest) => number;
  /** Scheduler clock → epoch ms. Default: the real clock (`performance.now()`) shifted by `performance.timeOrigin`. */
  readonly toEpochMs?: (clockMs: number) => number;
  /** Epoch ms now; default `Date.now`. */
  readonly now?: () => number;
  /** How long entries are kept, ms; default 10 minutes. */
  readonly windowMs?: number;
  /** Most entries kept per node whatever their age; default 50,000 (a few MB). */
  readonly capacity?: number;
}

export interface TimelineRecorder {
  /** Feeds one scheduler event of GPU `gpu`; call from the scheduler's `onEvent`. Never throws. */
  record(gpu: number, event: SchedulerEvent): void;
  /** Counts a token produced by a model on GPU `gpu`, attributed to the turn that ends next for that model there. */
  countToken(weightsDigest: WeightsDigest, gpu?: number): void;
  /** Entries that ended after `sinceMs` (epoch ms), at most `windowMs` old. */
  read(sinceMs?: number): NodeTimeline;
}

export const DEFAULT_TIMELINE_WINDOW_MS = 10 * 60_000;

/**
 * Turns the scheduler's events into per-GPU spans in a bounded ring. Events arrive when something ends
 * (a turn, a copy, a park) with its duration, so each becomes one closed span; switches and evictions are
 * instants. Token counts come from the node's sequence sinks, since turn events carry engine steps only.
 */
export function createTimelineRecorder(options: TimelineRecorderOptions): TimelineRecorder {
  const toEpochMs = options.toEpochMs ?? ((clockMs: number) => performance.timeOrigin + clockMs);
  const now = options.now ?? Date.now;
  const windowMs = options.windowMs ?? DEFAULT_TIMELINE_WINDOW_MS;
  const ring = new SpanRing<TimelineSpan>(options.capacity ?? 50_000);
  const pendingTokens = new Map<string, number>();
  let seq = 0;

  type Unnumbered = TimelineSpan extends infer S ? (S extends TimelineSpan ? Omit<S, 'seq'> : never) : never;

  function span(gpu: number, event: SchedulerEvent): Unnumbered | undefined {
    const endMs = toEpochMs(event.atMs);
    const fn = options.functionOf(event.type === 'switch' ? event.to : event.weightsDigest);
    const instant = { gpu, function: fn, startMs: endMs, endMs };
    switch (event.type) {
      case 'turn': {
        const tokens = pendingTokens.get(tokenKey(gpu, event.weightsDigest)) ?? 0;
        pendingTokens.delete(tokenKey(gpu, event.weightsDigest));
        // A turn that ran no step (model not resident, nothing admitted) occupied no GPU time worth drawing.
        if (event.steps === 0) return undefined;
        return { ...instant, kind: 'run', startMs: endMs - event.ms, steps: event.steps, tokens, reason: event.reason };
      }
      case 'switch':
        return { ...instant, kind: 'switch', from: event.from === undefined ? null : options.functionOf(event.from) };
      case 'load':
        // A load answered from weights already in a slot moved nothing.
        if (event.cached) return undefined;
        return { ...instant, kind: event.prefetch ? 'prefetch' : 'load', startMs: endMs - event.ms, bytes: options.bytesOf?.(event.weightsDigest) ?? 0 };
      case 'park':
      case 'restore':
        return { ...instant, kind: event.type, startMs: endMs - event.ms, sequences: event.sequences, bytes: event.bytes };
      case 'evict':
        return { ...instant, kind: 'evict' };
      case 'error':
        return { ...instant, kind: 'error', message: event.message };
    }
  }

  return {
    record(gpu, event) {
      const entry = span(gpu, event);
      // seq numbers are only spent on kept entries, so readers see no gaps.
      if (entry) ring.push({ ...entry, seq: ++seq } as TimelineSpan);
    },
    countToken(weightsDigest, gpu = 0) {
      const key = tokenKey(gpu, weightsDigest);
      pendingTokens.set(key, (pendingTokens.get(key) ?? 0) + 1);
    },
    read(sinceMs) {
      const nowMs = now();
      ring.dropBefore(nowMs - windowMs);
      const after = Math.max(sinceMs ?? Number.NEGATIVE_INFINITY, nowMs - windowMs);
      return { nodeId: options.nodeId, nowMs, windowMs, gpus: options.gpus, spans: ring.since(after) };
    },
  };
}

/** Pending token counts are per (GPU, model): one model may run on several GPUs of a node at once. */
function tokenKey(gpu: number, weightsDigest: WeightsDigest): string {
  return `${gpu}:${weightsDigest}`;
}

/** Wraps a sequence's sink so each token it receives is counted on the timeline for `weightsDigest` on `gpu`. */
export function sinkCountingTokens(recorder: TimelineRecorder, weightsDigest: WeightsDigest, sink: SequenceSink, gpu = 0): SequenceSink {
  return {
    onToken(token, logprob) {
      recorder.countToken(weightsDigest, gpu);
      sink.onToken(token, logprob);
    },
    onDone: (reason, usage, error, embedding) => sink.onDone(reason, usage, error, embedding),
  };
}
