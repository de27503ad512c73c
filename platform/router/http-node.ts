import { ChoiceProgress } from '../../protocol/choice-progress.js';
import { bearer } from '../../protocol/cluster-token.js';
import { artifactToWire, generateRequestToWire, parseNodeEvent, parseRefusal } from '../../protocol/internal-generate.js';
import { parseNodeStats, parseNodeTimeline, parseResidencyList } from '../../protocol/node-reports.js';
import {
  NODE_ERROR_CODES,
  NodeError,
  type Artifact,
  type ModelResidency,
  type NodeErrorCode,
  type NodeEvent,
  type NodeGenerateRequest,
  type NodeRuntime,
  type WarmHoldTarget,
} from '../../protocol/node-runtime.js';
import type { NodeStats } from '../../protocol/node-stats.js';
import type { NodeTimeline } from '../../protocol/timeline-types.js';

/** The node could not be reached, or hung up before answering: nothing ran there, another node may take it. */
export class NodeUnreachableError extends NodeError {
  constructor(
    readonly nodeId: string,
    cause: string,
  ) {
    super('engine_down', `node ${nodeId} unreachable: ${cause}`);
    this.name = 'NodeUnreachableError';
  }
}

/** The node's stream broke after it admitted the request (process killed, network cut). */
export class NodeLostError extends Error {
  constructor(
    readonly nodeId: string,
    readonly tokens: number,
    cause: string,
  ) {
    super(`node ${nodeId} was lost after ${tokens} token(s): ${cause}`);
    this.name = 'NodeLostError';
  }
}

/**
 * A `NodeRuntime` reached over the node's internal HTTP API (`runtime/cluster/node-server.ts`): NDJSON
 * `NodeEvent`s for generate, JSON for residency, the cluster token on every call.
 */
export class HttpNodeRuntime implements NodeRuntime {
  constructor(
    readonly nodeId: string,
    readonly address: string,
    private readonly token: string,
  ) {}

  async *generate(request: NodeGenerateRequest, signal?: AbortSignal, choiceSignals?: readonly AbortSignal[]): AsyncGenerator<NodeEvent> {
    const progress = new ChoiceProgress(request);
    let res: Response;
    try {
      res = await fetch(`${this.address}/internal/generate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...bearer(this.token) },
        body: JSON.stringify(generateRequestToWire(request)),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) return yield* progress.endOpen('cancelled');
      throw new NodeUnreachableError(this.nodeId, causeOf(error));
    }
    if (!res.ok) throw await this.refusal(res);
    const stopCancels = this.forwardChoiceCancels(request.id, choiceSignals);
    let buffered = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const event = parseNodeEvent(JSON.parse(line));
          progress.see(event);
          yield event;
          if (progress.done) return;
        }
      }
    } catch (error) {
      if (signal?.aborted) return yield* progress.endOpen('cancelled');
      throw new NodeLostError(this.nodeId, progress.totalTokens, causeOf(error));
    } finally {
      stopCancels();
    }
    if (signal?.aborted) return yield* progress.endOpen('cancelled');
    throw new NodeLostError(this.nodeId, progress.totalTokens, 'stream ended without a done event');
  }

  /**
   * Sends `POST /internal/cancel` for each choice whose signal aborts while the group streams (a stop string
   * matched in it); returns what stops listening. A cancel that does not arrive only lets that choice run on.
   */
  private forwardChoiceCancels(id: string, choiceSignals: readonly AbortSignal[] | undefined): () => void {
    const listeners = (choiceSignals ?? []).map((signal, choice) => {
      const send = () =>
        void fetch(`${this.address}/internal/cancel`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...bearer(this.token) },
          body: JSON.stringify({ id, choice }),
          signal: AbortSignal.timeout(5000),
        })
          .then((res) => res.body?.cancel())
          .catch(() => undefined);
      if (signal.aborted) send();
      else signal.addEventListener('abort', send, { once: true });
      return () => signal.removeEventListener('abort', send);
    });
    return () => {
      for (const stop of listeners) stop();
    };
  }

  async residency(): Promise<readonly ModelResidency[]> {
    const res = await fetch(`${this.address}/internal/residency`, { headers: bearer(this.token), signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw await this.refusal(res);
    return parseResidencyList(await res.json());
  }

  async timeline(sinceMs?: number): Promise<NodeTimeline> {
    const query = sinceMs === undefined ? '' : `?since=${sinceMs}`;
    const res = await fetch(`${this.address}/internal/timeline${query}`, { headers: bearer(this.token), signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw await this.refusal(res);
    return parseNodeTimeline(await res.json());
  }

  async stats(): Promise<NodeStats> {
    const res = await fetch(`${this.address}/internal/stats`, { headers: bearer(this.token), signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw await this.refusal(res);
    return parseNodeStats(await res.json());
  }

  /**
   * `POST /internal/hold-warm`: pins (artifact set) or releases (undefined) a function in the node's host pool.
   * Resolves once the node holds it, which may take as long as fetching the weights, so there is no timeout.
   */
  async holdWarm(functionName: string, artifact: Artifact | undefined, keepWarmMs: number): Promise<void> {
    const res = await fetch(`${this.address}/internal/hold-warm`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...bearer(this.token) },
      body: JSON.stringify({ functionName, artifact: artifact ? artifactToWire(artifact) : null, keepWarmMs }),
    });
    if (!res.ok) throw await this.refusal(res);
    await res.body?.cancel();
  }

  /**
   * `PUT /internal/warm-holds`: the whole set of holds the node should have; it releases every other. The
   * node answers once it has taken the set (fetches go on there), so this is bounded like the reads.
   */
  async setWarmHolds(holds: readonly WarmHoldTarget[]): Promise<void> {
    const res = await fetch(`${this.address}/internal/warm-holds`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...bearer(this.token) },
      body: JSON.stringify({ holds: holds.map((h) => ({ ...h, artifact: artifactToWire(h.artifact) })) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw await this.refusal(res);
    await res.body?.cancel();
  }

  /** Nothing to release: the node process owns its engines. */
  async close(): Promise<void> {}

  private async refusal(res: Response): Promise<NodeError> {
    const refusal = parseRefusal(await res.json().catch(() => ({})), `node ${this.nodeId} answered ${res.status}`);
    if (res.status === 401) return new NodeError('engine_down', `node ${this.nodeId} refused the cluster token`);
    const code = (NODE_ERROR_CODES as readonly string[]).includes(refusal.code) ? (refusal.code as NodeErrorCode) : 'engine_down';
    return new NodeError(code, refusal.message, refusal.retryAfterMs);
  }
}

function causeOf(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
