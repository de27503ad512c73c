import { EngineError, type EngineErrorCode, type EngineStats } from './engine.js';

/** One decoded frame from the engine: a reply (`ok`/`error` with `re`) or an event (`step`/`done`). */
export type WireMessage = { readonly type?: string } & Readonly<Record<string, unknown>>;

type WireRecord = Readonly<Record<string, unknown>>;

/** Maps the protocol's snake_case `stats` reply onto `EngineStats`; absent numbers read as 0. */
export function toEngineStats(reply: WireRecord): EngineStats {
  const memory = (reply.memory ?? {}) as WireRecord;
  const models = Array.isArray(reply.models) ? (reply.models as WireRecord[]) : [];
  return {
    models: models.map((model) => ({
      model: String(model.model),
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

const CODES: ReadonlySet<string> = new Set<EngineErrorCode>([
  'bad_request', 'not_found', 'bad_model', 'out_of_memory', 'busy', 'context_overflow', 'unsupported', 'internal', 'device_lost',
  'engine_down',
]);

/**
 * An `EngineError` whose message starts with its code (`bad_model: load: ...`). Sequence sinks receive only
 * a message string, so the prefix is how a caller above the scheduler can still tell the cause apart.
 */
export function engineError(code: EngineErrorCode, text: string): EngineError {
  return new EngineError(code, `${code}: ${text}`);
}

/** The code at the start of a message made by `engineError` (or a drop), if any. */
export function engineErrorCodeOf(message: string | undefined): EngineErrorCode | undefined {
  const code = /^([a-z_]+): /.exec(message ?? '')?.[1];
  return code !== undefined && CODES.has(code) ? (code as EngineErrorCode) : undefined;
}
