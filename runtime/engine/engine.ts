import { type ErrorCode, TidepoolError } from '../../protocol/errors.js';
import type { DoneReason, TokenLogprob } from '../../protocol/node-runtime.js';
import type { SamplingParams } from '../../protocol/sampling.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/**
 * The engine as the scheduler sees it: one device, several resident models, sequences that produce tokens
 * in turns. Two implementations exist: `EngineClient` (the real `tidepool-engine` process over its Unix
 * socket, see docs/engine-protocol.md) and `SimulatedEngine` (runtime/sim/, virtual clock, calibrated
 * costs). The scheduler is written against this interface only, so production and simulation share it.
 *
 * All methods are asynchronous and complete in the order they were called. A rejected promise carries an
 * `EngineError` with the protocol's error code.
 */
export interface Engine {
  /** `cpu`, `cuda` or `sim`. */
  readonly backend: EngineBackend;

  /** Pages a model's weights into a device slot. Resolves once the model can run. Idempotent. */
  load(model: ModelRef): Promise<LoadResult>;

  /** Frees a model's slot. Rejects with `busy` while it has running sequences unless `force`. */
  evict(weightsDigest: WeightsDigest, options?: { readonly force?: boolean }): Promise<void>;

  /**
   * Queues a sequence for its model. Tokens and the end of the sequence reach `sink`. The model does not have
   * to be resident yet; the sequence waits until a turn of its model admits it.
   */
  add(sequence: SequenceSpec, sink: SequenceSink): Promise<void>;

  /**
   * Queues a request's choices on one prompt as one group (n > 1): the prompt is prefilled once and every
   * other member starts from that prefill's KV (the engine forks its pages), each sampling with its own seed,
   * so each produces the tokens it would produce alone. `sinks[i]` gets member i's output. All or nothing: a
   * rejection queued none of them. Afterwards they are ordinary sequences for `cancel`, `park` and `restore`.
   */
  addGroup(group: SequenceGroupSpec, sinks: readonly SequenceSink[]): Promise<void>;

  /** Ends a sequence (sink gets `onDone('cancelled')`) and frees its KV blocks. Unknown ids are ignored. */
  cancel(sequenceId: number): Promise<void>;

  /** Runs up to `maxSteps` steps of one model's batch. Resolves when the turn ends. */
  runTurn(weightsDigest: WeightsDigest, maxSteps: number): Promise<TurnResult>;

  /** Ends the running turn at the next token boundary and drops queued turns. */
  preempt(): Promise<void>;

  /** Moves a sequence's KV to host memory; it leaves the batch until `restore`. */
  park(sequenceId: number): Promise<KvMoveResult>;
  restore(sequenceId: number): Promise<KvMoveResult>;

  stats(): Promise<EngineStats>;

  /** Stops the engine; pending sequences end with `error`. */
  close(): Promise<void>;
}

export type EngineBackend = 'cpu' | 'cuda' | 'sim';

/** A model as the engine loads it: a key (the artifact digest) and the directory holding its files. */
export interface ModelRef {
  readonly weightsDigest: WeightsDigest;
  /** Directory with config.json and *.safetensors (in shared memory for real engines). */
  readonly dir: string;
  /** Total weight bytes, for budgets and cost models. */
  readonly bytes: number;
}

export interface LoadResult {
  readonly bytes: number;
  readonly ms: number;
  /** True when the model was already resident. */
  readonly cached: boolean;
}

export interface SequenceSpec {
  readonly id: number;
  readonly weightsDigest: WeightsDigest;
  readonly promptTokens: readonly number[];
  /** The caller's record, unchanged; the client writes its engine fields into `add`. */
  readonly sampling: SamplingParams;
  /** End-of-sequence ids of the model's tokenizer (the engine's `eos_ids`). */
  readonly stopTokenIds: readonly number[];
  /** The model's files (`tokenizer.json` gives the token bytes a `grammar` needs); required with a grammar. */
  readonly modelDir?: string;
}

/** A group's sequences: one spec for the shared prompt and sampling, and per member its id and seed. */
export interface SequenceGroupSpec extends Omit<SequenceSpec, 'id'> {
  /** Member 0 first (the one prefilled); each seed replaces `sampling.seed` for its member. 1 to 16. */
  readonly members: readonly { readonly id: number; readonly seed: number }[];
}

export type { DoneReason };

/** Receives a sequence's output. Calls arrive in token order; `onDone` is the last call. */
export interface SequenceSink {
  /** `logprob` is set when the sequence's sampling asked for `logprobs`. */
  onToken(token: number, logprob?: TokenLogprob): void;
  /**
   * `error` is set when `reason` is `error`: the code and message of what ended the sequence; `embedding`
   * for an embedding sequence (`sampling.embed`) that finished.
   */
  onDone(reason: DoneReason, usage: { promptTokens: number; completionTokens: number }, error?: TidepoolError, embedding?: readonly number[]): void;
}

export interface TurnResult {
  readonly steps: number;
  readonly reason: 'quota' | 'idle' | 'preempted' | 'not_resident';
  readonly ms: number;
}

export interface KvMoveResult {
  readonly bytes: number;
  readonly ms: number;
}

export interface EngineStats {
  /** Prompt tokens the engine did not prefill because a group's member forked another's KV, since it started. */
  readonly prefillTokensSaved: number;
  readonly models: readonly {
    readonly weightsDigest: WeightsDigest;
    readonly bytes: number;
    /** `mapped`: files mapped (and pinned on CUDA) but not in a device slot; the next load only copies. */
    readonly state: 'loading' | 'resident' | 'mapped';
    readonly running: number;
    readonly waiting: number;
    readonly parked: number;
  }[];
  readonly memory: {
    readonly budgetBytes: number;
    readonly weightsBytes: number;
    readonly kvBytes: number;
    readonly kvBlocksTotal: number;
    readonly kvBlocksUsed: number;
    readonly scratchBytes: number;
    /** Weight bytes of every model the engine has mapped, resident or not (host shared memory). */
    readonly mappedBytes: number;
    /** Host mappings page-locked for DMA (CUDA). */
    readonly hostPinnedBytes: number;
    /** Host mappings CUDA could not page-lock: their loads go through the slower staging ring (0 is healthy). */
    readonly hostStagedBytes: number;
    /** The CUDA backend's one device reservation and its weights arena (0 on the CPU backend). */
    readonly deviceReservedBytes: number;
    readonly deviceWeightsBytes: number;
    readonly deviceWeightsUsedBytes: number;
    readonly deviceWeightsLargestFreeBytes: number;
  };
}

/** The engine protocol's error codes (docs/engine-protocol.md), and `engine_down` when its process is gone. */
export type EngineErrorCode = Extract<
  ErrorCode,
  'bad_request' | 'not_found' | 'bad_model' | 'out_of_memory' | 'busy' | 'context_overflow' | 'unsupported' | 'internal' | 'device_lost' | 'engine_down'
>;

export const ENGINE_ERROR_CODES: readonly EngineErrorCode[] = [
  'bad_request',
  'not_found',
  'bad_model',
  'out_of_memory',
  'busy',
  'context_overflow',
  'unsupported',
  'internal',
  'device_lost',
  'engine_down',
];

export class EngineError extends TidepoolError<EngineErrorCode> {
  constructor(code: EngineErrorCode, message: string) {
    super(code, message);
    this.name = 'EngineError';
  }
}
