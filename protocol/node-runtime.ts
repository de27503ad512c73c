import { type ErrorCode, TidepoolError, type WireError } from './errors.js';
import type { SamplingParams } from './sampling.js';
import type { NodeStats } from './node-stats.js';
import type { NodeTimeline } from './timeline-types.js';
import type { WeightsDigest } from './weights-digest.js';

/**
 * What the control plane asks of a node: run a generation for a function version, and report where models
 * live. In local mode the control plane holds the node in-process; in cluster mode an HTTP client with the
 * same shape stands in for it. Token ids in, token ids out: tokenization and stop strings are the control
 * plane's job.
 */
export interface NodeRuntime {
  readonly nodeId: string;

  /**
   * Streams one generation. The iterator yields tokens as the engine produces them and ends with one `done`
   * event. It throws `NodeError` before the first event when the request cannot be admitted (queue full,
   * cold start timed out, store unreachable, engine down). Aborting `signal` cancels the sequence and frees
   * its KV; the iterator then ends with `done` reason `cancelled`.
   *
   * A group (`request.seeds`, a request's n choices on one prompt) streams every choice's events, each with
   * its `choice` index, in the order they come, and ends after every choice's `done`; it is admitted, refused,
   * cancelled by `signal` and failed as one. Aborting `choiceSignals[i]` ends choice i alone (a stop string
   * matched in it): its `done` is `cancelled`, the others go on.
   */
  generate(request: NodeGenerateRequest, signal?: AbortSignal, choiceSignals?: readonly AbortSignal[]): AsyncIterable<NodeEvent>;

  /**
   * Keeps a function's weights in host memory whatever its keep-warm window (`min_warm` in the manifest),
   * fetching them now if cold; `artifact` undefined releases the hold. Optional: a node that lacks it only
   * warms on demand.
   */
  holdWarm?(functionName: string, artifact: Artifact | undefined, keepWarmMs: number): Promise<void>;

  /**
   * Makes the node's holds exactly `holds`: each listed function is held as `holdWarm` would, every other
   * held function is released. Idempotent, so replicas may send it whenever they like. Resolves once every
   * listed hold is in place; rejects with the first that failed.
   */
  setWarmHolds?(holds: readonly WarmHoldTarget[]): Promise<void>;

  /** The holds this node was asked for (in place, still fetching, or failed), which heartbeats report. */
  warmHoldReport?(): readonly WarmHoldReport[];

  /** Where each model known to this node lives right now. */
  residency(): Promise<readonly ModelResidency[]>;

  /**
   * What each GPU did lately (runs, switches, copies, KV parks): entries that ended after `sinceMs` (epoch
   * ms), at most the node's window (10 minutes) old. Optional: a node without it shows no timeline.
   */
  timeline?(sinceMs?: number): Promise<NodeTimeline>;

  /**
   * Queue depth and running requests per function, each engine's memory split (weights, KV, free) and the
   * host pool's fill, for operators. Optional: a node without it shows its residency only.
   */
  stats?(): Promise<NodeStats>;

  /** Stops admission, ends engines and releases shared memory handles. */
  close(): Promise<void>;
}

export interface ArtifactFile {
  readonly name: string;
  /** `sha256:<hex>` of the file's bytes; the object store key derives from it. */
  readonly digest: string;
  readonly size: number;
}

export interface Artifact {
  /** `sha256:<hex>` over the sorted file list; the model key everywhere below the control plane. */
  readonly weightsDigest: WeightsDigest;
  readonly files: readonly ArtifactFile[];
  readonly bytes: number;
}

/** One `min_warm` hold as the control plane asks for it. */
export interface WarmHoldTarget {
  readonly functionName: string;
  readonly artifact: Artifact;
  /** The function's ordinary keep-warm window, which applies again once the hold is released. */
  readonly keepWarmMs: number;
}

/** A hold a node was asked for, as its heartbeat reports it. */
export interface WarmHoldReport {
  readonly functionName: string;
  readonly weightsDigest: WeightsDigest;
}

export interface NodeGenerateRequest {
  /** Invocation id, unique per request. */
  readonly id: string;
  readonly functionName: string;
  readonly version: number;
  readonly artifact: Artifact;
  readonly promptTokens: readonly number[];
  readonly sampling: SamplingParams;
  /** End-of-sequence token ids (the function's tokenizer's): the engine stops on them. */
  readonly stopTokenIds: readonly number[];
  readonly slo: { readonly ttftMs: number; readonly tpotMs: number };
  /** How long this function's weights may stay in host memory after last use. */
  readonly keepWarmMs: number;
  /**
   * n > 1: the seeds of a request's choices on this prompt, choice 0's first (equal to `sampling.seed`), at
   * most `MAX_GROUP_CHOICES`. The node runs them as one group: admitted, queued and cancelled together, one
   * prefill of the prompt whose KV the engine forks to every choice, each choice sampled with its own seed (so
   * its tokens are those it would get alone with that seed). Absent: one choice.
   */
  readonly seeds?: readonly number[];
}

/** Most choices one group may hold: OpenAI's `n` limit, and the engine's (`add` with `seqs`). */
export const MAX_GROUP_CHOICES = 16;

/** How many choices a request asks for: its seeds, or one. */
export function choiceCount(request: Pick<NodeGenerateRequest, 'seeds'>): number {
  return request.seeds?.length ?? 1;
}

/**
 * A sampled token's log-probability under the model's distribution (before temperature, top-p and the other
 * truncations; penalties, logit_bias and masks applied), and the best alternatives as [id, logprob], most
 * likely first: present only when the request asked for `logprobs`.
 */
export interface TokenLogprob {
  readonly logprob: number;
  readonly top: readonly (readonly [number, number])[];
}

/** How a sequence ended: a stop token, its length limit, a cancel, or a failure (`message` says which). */
export type DoneReason = 'stop' | 'length' | 'cancelled' | 'error';

/**
 * What a generation streams: its tokens, then one `done`. The same type on every hop: the engine client's
 * sink, the node's iterator, the NDJSON lines of `/internal/generate`. `error` is set when `reason` is
 * `error`, with the code of what failed. `choice` is set on every event of a group (`seeds` in the request):
 * the index of the choice it belongs to; a group's stream holds one `done` per choice.
 */
export type NodeEvent =
  | { readonly type: 'token'; readonly token: number; readonly logprob?: TokenLogprob; readonly choice?: number }
  | {
      readonly type: 'done';
      readonly choice?: number;
      readonly reason: DoneReason;
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly error?: WireError;
      /** An embedding sequence's result (`sampling.embed`): the pooled, L2-normalised final hidden states. */
      readonly embedding?: readonly number[];
    };

export type ResidencyTier = 'gpu' | 'host' | 'store';

export interface ModelResidency {
  readonly weightsDigest: WeightsDigest;
  readonly functionName: string;
  readonly tier: ResidencyTier;
  readonly bytes: number;
  readonly queued: number;
  readonly running: number;
}

/**
 * Why a node refused a generation before its first token. `blob_corrupt`: a stored blob's bytes do not hash
 * to its digest (every node shares the store: not retried elsewhere).
 */
export type NodeErrorCode = Extract<
  ErrorCode,
  'queue_full' | 'cold_start_timeout' | 'store_unavailable' | 'engine_down' | 'bad_model' | 'blob_corrupt' | 'context_overflow'
>;

export const NODE_ERROR_CODES: readonly NodeErrorCode[] = [
  'queue_full',
  'cold_start_timeout',
  'store_unavailable',
  'engine_down',
  'bad_model',
  'blob_corrupt',
  'context_overflow',
];

/** A refusal before any token; `retryAfterMs` is set for `queue_full`. */
export class NodeError extends TidepoolError<NodeErrorCode> {
  constructor(code: NodeErrorCode, message: string, retryAfterMs?: number) {
    super(code, message, retryAfterMs === undefined ? {} : { retryAfterMs });
    this.name = 'NodeError';
  }
}
