import type { WeightsDigest } from '../../protocol/weights-digest.js';
import type { TokenLogprob } from '../../protocol/node-runtime.js';
import { ENGINE_ERROR_CODES, EngineError, type EngineErrorCode, type EngineStats } from './engine.js';

/** One decoded frame from the engine: a reply (`ok`/`error` with `re`) or an event (`step`/`done`). */
export type WireMessage = { readonly type?: string } & Readonly<Record<string, unknown>>;

type WireRecord = Readonly<Record<string, unknown>>;

/** Maps the protocol's snake_case `stats` reply onto `EngineStats`; absent numbers read as 0. */
export function toEngineStats(reply: WireRecord): EngineStats {
  const memory = (reply.memory ?? {}) as WireRecord;
  const models = Array.isArray(reply.models) ? (reply.models as WireRecord[]) : [];
  return {
    prefillTokensSaved: Number(reply.prefill_tokens_saved ?? 0),
    models: models.map((model) => ({
      weightsDigest: String(model.model) as WeightsDigest, // the engine echoes the names this client gave it
      bytes: Number(model.bytes ?? 0),
      state: model.state === 'loading' ? 'loading' : model.state === 'mapped' ? 'mapped' : 'resident',
      running: Number(model.running ?? 0),
      waiting: Number(model.waiting ?? 0),
      parked: Number(model.parked ?? 0),
    })),
    memory: {
      budgetBytes: Number(memory.budget_bytes ?? 0),
      weightsBytes: Number(memory.weights_bytes ?? 0),
      kvBytes: Number(memory.kv_bytes ?? 0),
      kvBlocksTotal: Number(memory.kv_blocks_total ?? 0),
      kvBlocksUsed: Number(memory.kv_blocks_used ?? 0),
      scratchBytes: Number(memory.scratch_bytes ?? 0),
      mappedBytes: Number(memory.mapped_bytes ?? 0),
      hostPinnedBytes: Number(memory.host_pinned_bytes ?? 0),
      hostStagedBytes: Number(memory.host_staged_bytes ?? 0),
      deviceReservedBytes: Number(memory.device_reserved_bytes ?? 0),
      deviceWeightsBytes: Number(memory.device_weights_bytes ?? 0),
      deviceWeightsUsedBytes: Number(memory.device_weights_used_bytes ?? 0),
      deviceWeightsLargestFreeBytes: Number(memory.device_weights_largest_free_bytes ?? 0),
    },
  };
}

/** The codes the engine sends, in `error` replies and failed `done` events; any other reads as `internal`.
 * `engine_down` is the client's own code for a process that is gone, never sent by the engine. */
const SENT_CODES: ReadonlySet<string> = new Set<string>(ENGINE_ERROR_CODES.filter((code) => code !== 'engine_down'));

/**
 * An `EngineError` whose message starts with its code (`bad_model: load: ...`), the form the engine itself
 * uses in the messages of failed sequences.
 */
export function engineError(code: EngineErrorCode, text: string): EngineError {
  return new EngineError(code, `${code}: ${text}`);
}

/**
 * The error of a `done` event with `reason:"error"`, decoded once where the engine's frames arrive: the code
 * is the event's `code` field, the message its human text. A missing or unknown code is `internal`; nothing
 * is read out of the message. Above this function every layer passes the coded error on.
 */
export function sequenceError(done: WireRecord): EngineError {
  const message = typeof done.message === 'string' ? done.message : 'sequence failed';
  const code = typeof done.code === 'string' && SENT_CODES.has(done.code) ? (done.code as EngineErrorCode) : 'internal';
  return new EngineError(code, message);
}

/**
 * The logprob of one `step` item (`[seq, token, logits?, {logprob, top}]`): the object after the token, when
 * the sequence asked for logprobs. A malformed one reads as absent rather than failing the sequence.
 */
export function stepItemLogprob(item: readonly unknown[]): TokenLogprob | undefined {
  const extra = item.slice(2).find((x): x is WireRecord => typeof x === 'object' && x !== null && !Array.isArray(x));
  if (!extra || typeof extra.logprob !== 'number' || !Array.isArray(extra.top)) return undefined;
  const top = (extra.top as unknown[]).filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number');
  return { logprob: extra.logprob, top: top.map(([id, lp]) => [id, lp] as const) };
}

/** The error of an `error` reply to the command `op`, prefixed with its code like every engine error. */
export function replyError(op: string, reply: WireRecord): EngineError {
  const code = SENT_CODES.has(String(reply.code)) ? (reply.code as EngineErrorCode) : 'internal';
  return engineError(code, `${op}: ${String(reply.message ?? reply.code)}`);
}

/** `value` when it is one of `allowed`; otherwise the engine broke the protocol. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw engineError('internal', `${field}: the engine sent ${JSON.stringify(value)}, expected one of ${allowed.join(', ')}`);
}
