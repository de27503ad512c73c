/**
 * What a node reports about the recent past of its GPUs, for the dashboard's Gantt chart. Times are epoch
 * milliseconds (wall clock) so spans from several nodes share one axis; `seq` increases by one per recorded
 * entry on a node, so a reader can drop duplicates when polls overlap.
 */
export interface NodeTimeline {
  readonly nodeId: string;
  /** Epoch ms when the node answered; entries recorded up to this instant are included. */
  readonly nowMs: number;
  /** How far back this node keeps entries, ms. */
  readonly windowMs: number;
  readonly gpus: readonly TimelineGpu[];
  /** Oldest first. */
  readonly spans: readonly TimelineSpan[];
}

/** A device slot as the node names it: `cuda:0`, or `cpu engine 0` on a node without GPUs. */
export interface TimelineGpu {
  readonly index: number;
  readonly label: string;
}

interface SpanBase {
  readonly seq: number;
  readonly gpu: number;
  /** Function name (or names, joined with `, `, when several functions share one model). */
  readonly function: string;
  /** Epoch ms. Instant entries have `startMs === endMs`. */
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * - `run`: one scheduler turn of a model on the GPU (decode and prefill steps).
 * - `switch`: the GPU changed model at a token boundary; `function` is the model switched to.
 * - `prefetch`: weights copied host → GPU ahead of need, overlapping another model's turn.
 * - `load`: weights copied host → GPU while the turn waited for them (a cold start on this GPU).
 * - `park` / `restore`: KV blocks of preempted sequences moved to host memory and back.
 * - `evict`: weights left the GPU (memory needed, or idle too long).
 * - `error`: the model failed on this GPU (its requests ended with an error).
 */
export type TimelineSpan =
  | (SpanBase & { readonly kind: 'run'; readonly steps: number; readonly tokens: number; readonly reason: string })
  | (SpanBase & { readonly kind: 'switch'; readonly from: string | null })
  | (SpanBase & { readonly kind: 'prefetch' | 'load'; readonly bytes: number })
  | (SpanBase & { readonly kind: 'park' | 'restore'; readonly sequences: number; readonly bytes: number })
  | (SpanBase & { readonly kind: 'evict' })
  | (SpanBase & { readonly kind: 'error'; readonly message: string });

export type TimelineSpanKind = TimelineSpan['kind'];
