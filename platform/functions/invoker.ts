import { randomUUID } from 'node:crypto';
import { NodeError, type NodeEvent } from '../../protocol/node-runtime.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { QuotaGate } from '../quota/quota-gate.js';
import type { Router } from '../router/router.js';
import type { InflightJournal } from './inflight-journal.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import { checkSamplingIds, resolveSampling } from '../../protocol/sampling.js';
import { type GenerationEvent, GenerationRun, type Usage } from './generation-run.js';
import type { InvokeParams } from './invoke-params.js';
import type { ResolvedFunction } from './resolved-function.js';
import { admitWithinQuota } from './quota-admission.js';

export type { GenerationEvent, Usage };

/** A generation admitted by a node: events follow. Throws `engine_error` if the engine fails mid-way. */
export interface Generation extends AsyncIterable<GenerationEvent> {
  readonly id: string;
  readonly maxTokens: number;
}

export interface Invoker {
  /** Admits a generation; rejects with a `TidepoolError` (bad request, limit, node refusal) before anything is sent to the client. */
  start(fn: ResolvedFunction, params: InvokeParams, signal: AbortSignal): Promise<Generation>;
  /**
   * Resolves once every admitted generation has written its invocation record (or after `timeoutMs`). A
   * response can close before its generation notices (client gone mid-stream), so shutdown waits on this, not
   * on the sockets, before the recorder's last flush.
   */
  idle(timeoutMs: number): Promise<boolean>;
}

export interface InvokerOptions {
  readonly router: Router;
  readonly recorder: InvocationRecorder;
  readonly metrics: ControlPlaneMetrics;
  /** Per-key and per-function limits, checked after the request is validated; absent, nothing is limited. */
  readonly quotas?: QuotaGate;
  /** Invocations in flight, on disk, so a crash's victims are recorded at the next start (local mode). */
  readonly journal?: InflightJournal;
  readonly now?: () => number;
}

/**
 * A node's refusal as the API reports it: the node's code, except an engine-detected context overflow, which
 * the caller sees as the same `context_length_exceeded` the invoker's own check gives.
 */
export function publicNodeError(error: NodeError): TidepoolError {
  if (error.code !== 'context_overflow') return error;
  return new TidepoolError('context_length_exceeded', error.message, { param: 'max_tokens' });
}

/**
 * The function's default `max_tokens`, clamped to what the context leaves after the prompt: a caller who
 * sent no `max_tokens` gets as much as fits, never an error about a value they did not send.
 */
function defaultMaxTokens(fn: ResolvedFunction, promptTokens: number): number {
  return Math.max(1, Math.min(fn.manifest.defaults.max_tokens, fn.contextLength - promptTokens));
}

/** `maxTokens` is what the caller sent, or the clamped default (which always fits once the prompt does). */
function checkContext(fn: ResolvedFunction, promptTokens: number, maxTokens: number): void {
  if (promptTokens === 0) throw new TidepoolError('empty_prompt', 'the prompt encodes to no tokens', { param: 'prompt' });
  if (promptTokens >= fn.contextLength) {
    throw new TidepoolError(
      'context_length_exceeded',
      `prompt (${promptTokens} tokens) leaves no room in the context length ${fn.contextLength} of function ${fn.name}`,
      { param: 'prompt' },
    );
  }
  if (promptTokens + maxTokens <= fn.contextLength) return;
  throw new TidepoolError(
    'context_length_exceeded',
    `prompt (${promptTokens} tokens) + max_tokens (${maxTokens}) = ${promptTokens + maxTokens} exceeds the context length ${fn.contextLength} of function ${fn.name}`,
    { param: 'max_tokens' },
  );
}

export function createInvoker(options: InvokerOptions): Invoker {
  const now = options.now ?? Date.now;
  const active = new ActiveCount();
  return {
    idle: (timeoutMs) => active.idle(timeoutMs),
    async start(fn, params, signal) {
      const defaults = { ...fn.manifest.defaults, max_tokens: defaultMaxTokens(fn, params.promptTokens.length) };
      const sampling = resolveSampling(params.sampling, defaults);
      checkSamplingIds(sampling, fn.vocabSize);
      const maxTokens = sampling.max_tokens;
      checkContext(fn, params.promptTokens.length, maxTokens);
      const id = params.id ?? randomUUID();
      const quota = admitWithinQuota({ gate: options.quotas, recorder: options.recorder, metrics: options.metrics, now, id, fn, params, maxTokens });
      active.enter();
      options.journal?.begin({
        id,
        functionName: fn.name,
        version: fn.version,
        apiKeyId: params.caller?.keyId ?? null,
        nodeId: null,
        promptTokens: params.promptTokens.length,
        startedMs: params.arrivalMs,
      });
      const onFinished = (usedTokens: number): void => {
        quota?.settle(usedTokens);
        active.leave();
      };
      const runContext = { id, fn, params, sampling, recorder: options.recorder, metrics: options.metrics, journal: options.journal, now, onFinished };
      let node: Awaited<ReturnType<Router['pick']>>;
      try {
        node = await options.router.pick(fn.artifact.weightsDigest);
      } catch (error) {
        // No node could take it (none registered, all down): still one record per request, a miss for the SLO.
        new GenerationRun({ ...runContext, nodeId: null }).finish('rejected', error);
        throw error;
      }
      // The node's iterator is cancelled by the client's signal or by us when a stop string matches.
      const cancel = new AbortController();
      const onAbort = (): void => cancel.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const events = node
        .generate(
          {
            id,
            functionName: fn.name,
            version: fn.version,
            artifact: fn.artifact,
            promptTokens: params.promptTokens,
            sampling,
            stopTokenIds: fn.tokenizer.stopTokenIds,
            slo: { ttftMs: fn.manifest.slo.ttft_ms, tpotMs: fn.manifest.slo.tpot_ms },
            keepWarmMs: fn.manifest.keep_warm_ms,
          },
          cancel.signal,
        )
        [Symbol.asyncIterator]();
      const run = new GenerationRun({ ...runContext, nodeId: node.nodeId });
      let first: IteratorResult<NodeEvent>;
      try {
        first = await events.next();
      } catch (error) {
        signal.removeEventListener('abort', onAbort);
        run.finish(signal.aborted ? 'cancelled' : 'rejected', error);
        throw error instanceof NodeError ? publicNodeError(error) : error;
      }
      return {
        id,
        maxTokens,
        [Symbol.asyncIterator]: () => run.events(first, events, cancel, () => signal.removeEventListener('abort', onAbort)),
      };
    },
  };
}

/** Generations admitted and not yet recorded; `idle` waits for zero. */
class ActiveCount {
  private count = 0;
  private waiters: (() => void)[] = [];

  enter(): void {
    this.count++;
  }

  leave(): void {
    this.count--;
    if (this.count > 0) return;
    for (const wake of this.waiters.splice(0)) wake();
  }

  idle(timeoutMs: number): Promise<boolean> {
    if (this.count <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
