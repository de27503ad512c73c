import { randomUUID } from 'node:crypto';
import { NodeError, type NodeEvent } from '../../protocol/node-runtime.js';
import { requestAttainment, tokenDeadline } from '../../protocol/slo.js';
import { TidepoolError } from '../../protocol/errors.js';
import { StopFilter } from '../api/text-stream.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { QuotaGate } from '../quota/quota-gate.js';
import type { Router } from '../router/router.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import { resolveSampling, type SamplingParams } from '../../protocol/sampling.js';
import type { InvokeParams } from './invoke-params.js';
import type { ResolvedFunction } from './resolved-function.js';
import { admitWithinQuota } from './quota-admission.js';

export type GenerationEvent =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'done'; readonly finishReason: 'stop' | 'length'; readonly usage: Usage };

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

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

function checkContext(fn: ResolvedFunction, promptTokens: number, maxTokens: number): void {
  if (promptTokens === 0) throw new TidepoolError('empty_prompt', 'the prompt encodes to no tokens', { param: 'prompt' });
  if (promptTokens >= fn.contextLength) {
    throw new TidepoolError('context_length_exceeded', `prompt (${promptTokens} tokens) leaves no room in the context length ${fn.contextLength} of function ${fn.name}`, { param: 'prompt' });
  }
  if (promptTokens + maxTokens <= fn.contextLength) return;
  throw new TidepoolError('context_length_exceeded', `prompt (${promptTokens} tokens) + max_tokens (${maxTokens}) = ${promptTokens + maxTokens} exceeds the context length ${fn.contextLength} of function ${fn.name}`, { param: 'max_tokens' });
}

export function createInvoker(options: InvokerOptions): Invoker {
  const now = options.now ?? Date.now;
  const active = new ActiveCount();
  return {
    idle: (timeoutMs) => active.idle(timeoutMs),
    async start(fn, params, signal) {
      const sampling = resolveSampling(params.sampling, fn.manifest.defaults);
      const maxTokens = sampling.max_tokens;
      checkContext(fn, params.promptTokens.length, maxTokens);
      const id = randomUUID();
      const quota = admitWithinQuota({ gate: options.quotas, recorder: options.recorder, metrics: options.metrics, now, id, fn, params, maxTokens });
      active.enter();
      const onFinished = (usedTokens: number): void => {
        quota?.settle(usedTokens);
        active.leave();
      };
      let node: Awaited<ReturnType<Router['pick']>>;
      try {
        node = await options.router.pick(fn.artifact.digest);
      } catch (error) {
        // No node could take it (none registered, all down): still one record per request, a miss for the SLO.
        new GenerationRun({ id, fn, params, sampling, nodeId: null, options, now, onFinished }).finish('rejected', error);
        throw error;
      }
      // The node's iterator is cancelled by the client's signal or by us when a stop string matches.
      const cancel = new AbortController();
      const onAbort = (): void => cancel.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const events = node.generate(
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
      )[Symbol.asyncIterator]();
      const run = new GenerationRun({ id, fn, params, sampling, nodeId: node.nodeId, options, now, onFinished });
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

interface RunContext {
  readonly id: string;
  readonly fn: ResolvedFunction;
  readonly params: InvokeParams;
  readonly sampling: SamplingParams;
  readonly nodeId: string | null;
  readonly options: InvokerOptions;
  readonly now: () => number;
  /** Called once, after the record, with the tokens the generation used (prompt + completion; 0 if refused). */
  readonly onFinished: (usedTokens: number) => void;
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

/** One generation's text pipeline (ids → text → stop cut) and its bookkeeping for the invocation record. */
class GenerationRun {
  private readonly tokenTimes: number[] = [];
  private completionTokens = 0;
  private finished = false;

  constructor(private readonly ctx: RunContext) {}

  async *events(
    first: IteratorResult<NodeEvent>,
    rest: AsyncIterator<NodeEvent>,
    cancel: AbortController,
    cleanup: () => void,
  ): AsyncGenerator<GenerationEvent> {
    const { fn, params } = this.ctx;
    const detok = fn.tokenizer.createDecoder();
    const stop = new StopFilter(this.ctx.sampling.stop);
    const eos = new Set(fn.tokenizer.stopTokenIds);
    let status = 'cancelled';
    let failure: unknown;
    // Set once the node reported `done`: its sequence is over, so there is nothing left to cancel.
    let nodeDone = false;
    try {
      for (let next = first; !next.done; next = await rest.next()) {
        const event = next.value;
        if (event.type === 'done') {
          nodeDone = true;
          status = await this.onDone(event);
          const tail = stop.push(detok.flush());
          const text = tail.text + (tail.stopped ? '' : stop.flush());
          if (text) yield { type: 'text', text };
          const finishReason = tail.stopped || event.reason === 'stop' ? 'stop' : 'length';
          yield { type: 'done', finishReason, usage: this.usage(event.promptTokens) };
          return;
        }
        this.onToken();
        if (eos.has(event.token)) continue;
        const cut = stop.push(detok.push(event.token));
        if (cut.text) yield { type: 'text', text: cut.text };
        if (cut.stopped) {
          status = 'stop';
          cancel.abort();
          yield { type: 'done', finishReason: 'stop', usage: this.usage(params.promptTokens.length) };
          return;
        }
      }
    } catch (error) {
      status = 'error';
      failure = error;
      throw error;
    } finally {
      cleanup();
      // A consumer that stops early (client gone) lands here too; the node sequence must not run on. After
      // `done` the abort is skipped: it would cancel nothing, and each abort builds a DOMException with a
      // stack trace, a measurable share of a request's CPU (docs/api.md, control-plane overhead).
      if (!nodeDone && !cancel.signal.aborted) cancel.abort();
      // Ends the node's iterator too (it also returns after `done`, or after a stop-string cut that never
      // reads on): its `finally` releases the host lease and the queue slot.
      void rest.return?.().catch(() => undefined);
      this.finish(status, failure);
    }
  }

  private async onDone(event: Extract<NodeEvent, { type: 'done' }>): Promise<string> {
    if (event.reason === 'error') {
      throw new TidepoolError('engine_error', `generation failed: ${event.error?.message ?? 'engine error'}`);
    }
    this.completionTokens = event.completionTokens;
    return event.reason;
  }

  private onToken(): void {
    this.completionTokens++;
    this.tokenTimes.push(this.ctx.now());
  }

  private usage(promptTokens: number): Usage {
    return { promptTokens, completionTokens: this.completionTokens };
  }

  finish(status: string, error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const { fn, params, options, now } = this.ctx;
    const arrival = params.arrivalMs;
    const ttftMs = this.tokenTimes.length > 0 ? this.tokenTimes[0]! - arrival : null;
    const n = this.tokenTimes.length;
    const tpotMs = n > 1 ? (this.tokenTimes[n - 1]! - this.tokenTimes[0]!) / (n - 1) : null;
    // Failed or refused requests count every token they still owed as missed; finished ones are judged on
    // what they produced.
    const expected = status === 'error' || status === 'rejected' ? Math.max(n, this.ctx.sampling.max_tokens) : n;
    const slo = { ttftMs: fn.manifest.slo.ttft_ms, tpotMs: fn.manifest.slo.tpot_ms };
    const attainment = requestAttainment(arrival, this.tokenTimes, expected, slo);
    if (expected > 0) {
      const onTime = this.tokenTimes.filter((t, i) => t <= tokenDeadline(arrival, i + 1, slo)).length;
      options.metrics.sloAttainment.observe({ function: fn.name }, attainment);
      options.metrics.sloTokens.inc({ function: fn.name, outcome: 'on_time' }, onTime);
      options.metrics.sloTokens.inc({ function: fn.name, outcome: 'late' }, expected - onTime);
    }
    options.metrics.invocations.inc({ function: fn.name, status });
    if (ttftMs !== null) options.metrics.ttft.observe({ function: fn.name }, ttftMs / 1000);
    if (tpotMs !== null) options.metrics.tpot.observe({ function: fn.name }, tpotMs / 1000);
    options.metrics.completionTokens.inc({ function: fn.name }, this.completionTokens);
    options.recorder.record({
      id: this.ctx.id,
      functionName: fn.name,
      version: fn.version,
      apiKeyId: params.caller?.keyId ?? null,
      nodeId: this.ctx.nodeId,
      status,
      promptTokens: params.promptTokens.length,
      completionTokens: this.completionTokens,
      ttftMs,
      tpotMs,
      sloAttainment: attainment,
      sloMet: attainment >= 1,
      error: error === undefined ? null : error instanceof Error ? error.message : String(error),
      startedAt: new Date(arrival),
      finishedAt: new Date(now()),
    });
    this.ctx.onFinished(status === 'rejected' ? 0 : params.promptTokens.length + this.completionTokens);
  }
}
