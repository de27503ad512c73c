/**
 * Wire types of the operator API (docs/api.md, Operator API): `GET /v1/ops/state` and `GET /v1/invocations`.
 * The browser dashboard, `tidepool top` and `tidepool logs` read exactly these shapes; every field is plain
 * JSON (numbers in bytes or milliseconds as their names say, times as ISO 8601 strings).
 */
import type { NodeGpuStats } from '../../protocol/node-stats.js';

/** `GET /v1/ops/state`: one snapshot of the pool, assembled on demand. */
export interface OpsState {
  /** When the snapshot was assembled (ISO 8601). */
  readonly generatedAt: string;
  readonly nodes: readonly OpsNode[];
  /** Every deployed function, by name. */
  readonly functions: readonly OpsFunction[];
}

/**
 * `ready`: serving. `draining`: finishing its work, takes no new requests. `down`: silent past the cluster's
 * heartbeat limit. `unreachable`: listed as live but did not answer this snapshot's stats call.
 */
export type OpsNodeStatus = 'ready' | 'draining' | 'down' | 'unreachable';

export interface OpsNode {
  readonly id: string;
  readonly status: OpsNodeStatus;
  /** Where the control plane reaches the node (cluster mode); absent for the in-process node of local mode. */
  readonly url?: string;
  /** Empty when the node did not answer (`down`, `unreachable`). */
  readonly gpus: readonly OpsGpu[];
  readonly hostPool: OpsHostPool;
}

/**
 * One engine's device memory, as the node reports it (`protocol/node-stats.ts`):
 * `memoryBytes = weightsBytes + kvBytes + scratchBytes + freeBytes`. The CPU backend reports its engine as GPU 0.
 */
export type OpsGpu = NodeGpuStats;

/** Warm weights in the node's shared memory. */
export interface OpsHostPool {
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

/** Where a function's active weights are at best, across nodes: on a GPU, in host memory, or only in the store. */
export type OpsTier = 'gpu' | 'host' | 'store';

export interface OpsFunction {
  readonly name: string;
  /** The active version; null only for a function caught between its row and its first version. */
  readonly version: number | null;
  readonly tier: OpsTier;
  /** The active manifest's token-deadline SLO. */
  readonly slo: { readonly ttft_ms: number; readonly tpot_ms: number };
  /** Share (0..1) of the last 5 minutes' invocations that met their SLO; null when none was judged. */
  readonly attainment: number | null;
  /** Invocations recorded in the last 5 minutes, refused ones included. */
  readonly invocations5m: number;
  /** Medians over the last 5 minutes' invocations that produced a token; null when none did. */
  readonly ttftP50Ms: number | null;
  readonly tpotP50Ms: number | null;
  /** Requests admitted and waiting for their first token, summed over nodes. */
  readonly queueDepth: number;
  /** Requests generating, summed over nodes. */
  readonly running: number;
}

/** One row of `GET /v1/invocations`. Times are ISO 8601; latencies in milliseconds. */
export interface OpsInvocation {
  readonly id: string;
  readonly function: string;
  readonly version: number;
  /** The node that served it; null when it never reached one (refused by a quota, no node ready). */
  readonly node: string | null;
  /** `stop`, `length`, `cancelled`, `error` or `rejected`. */
  readonly status: string;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly ttft_ms: number | null;
  /** Mean time per output token after the first. */
  readonly tpot_ms: number | null;
  /** Share of token deadlines met, 0..1; null when the SLO does not cover it (quota refusals). */
  readonly slo_attainment: number | null;
  readonly slo_met: boolean | null;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly error: string | null;
  /**
   * What it ran with: `endpoint`, the complete `sampling` record (`grammar` as its automaton's hash), and the
   * request's other features (`n`, `index`, `response_format`, `tools`, `tool_choice`); null when unknown.
   */
  readonly params: Readonly<Record<string, unknown>> | null;
}

/** `GET /v1/invocations`: newest first, or oldest first with `since`. */
export interface OpsInvocationPage {
  readonly data: readonly OpsInvocation[];
  /** Pass as `after` for the next (older) page; null when this page is the last. Absent with `since`. */
  readonly next_cursor?: string | null;
}
