import { NodeError } from '../../protocol/node-runtime.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { QuotaGate } from '../quota/quota-gate.js';
import type { Router } from '../router/router.js';
import type { InflightJournal } from './inflight-journal.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import { ChoiceDemux } from './choice-demux.js';
import { type GenerationEvent, GenerationRun, type Usage } from './generation-run.js';
import { type PreparedChoice, checkOneGroup, nodeRequestOf, prepareChoice } from './invoke-choice.js';
import type { InvokeParams } from './invoke-params.js';
import type { ResolvedFunction } from './resolved-function.js';
import { admitGroupWithinQuota } from './quota-admission.js';

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
   * Admits a request's choices on one prompt as one group (at most 16; they share the prompt and every
   * sampling field but `seed`): one node runs them with one prefill of the prompt, whose KV its engine forks
   * to every choice, each sampled with its own seed. Each choice is its own generation: its invocation record
   * (its own id), quota charge, text pipeline, stop strings and cancel. All or nothing: a refusal rejects
   * (and records) every choice before anything is sent to the client.
   */
  startGroup(fn: ResolvedFunction, choices: readonly InvokeParams[], signal: AbortSignal): Promise<Generation[]>;
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

export function createInvoker(options: InvokerOptions): Invoker {
  const now = options.now ?? Date.now;
  const active = new ActiveCount();

  /** Quotas, the in-flight count and the journal for each choice; the contexts their runs are made from. */
  function admit(fn: ResolvedFunction, choices: readonly PreparedChoice[]) {
    const admission = { gate: options.quotas, recorder: options.recorder, metrics: options.metrics, now, fn };
    const tickets = admitGroupWithinQuota(
      admission,
      choices.map((c) => ({ id: c.id, params: c.params, maxTokens: c.sampling.max_tokens })),
    );
    return choices.map(({ id, params, sampling }, i) => {
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
        tickets[i]?.settle(usedTokens);
        active.leave();
      };
      return { id, fn, params, sampling, recorder: options.recorder, metrics: options.metrics, journal: options.journal, now, onFinished };
    });
  }

  async function startGroup(fn: ResolvedFunction, choices: readonly InvokeParams[], signal: AbortSignal): Promise<Generation[]> {
    const prepared = choices.map((params) => prepareChoice(fn, params));
    checkOneGroup(prepared);
    const contexts = admit(fn, prepared);
    let node: Awaited<ReturnType<Router['pick']>>;
    try {
      node = await options.router.pick(fn.artifact.weightsDigest);
    } catch (error) {
      // No node could take it (none registered, all down): still one record per choice, each a miss for the SLO.
      for (const ctx of contexts) new GenerationRun({ ...ctx, nodeId: null }).finish('rejected', error);
      throw error;
    }
    // The node's stream is cancelled by the client's signal; each choice's by a stop string matched in it.
    const group = prepared.length > 1;
    const cancel = new AbortController();
    const choiceCancels = group ? prepared.map(() => new AbortController()) : [cancel];
    const onAbort = (): void => cancel.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const events = node.generate(nodeRequestOf(fn, prepared), cancel.signal, group ? choiceCancels.map((c) => c.signal) : undefined);
    const demux = new ChoiceDemux(events[Symbol.asyncIterator](), prepared.length);
    const runs = contexts.map((ctx) => new GenerationRun({ ...ctx, nodeId: node.nodeId }));
    try {
      await demux.first();
    } catch (error) {
      signal.removeEventListener('abort', onAbort);
      for (const run of runs) run.finish(signal.aborted ? 'cancelled' : 'rejected', error);
      throw error instanceof NodeError ? publicNodeError(error) : error;
    }
    let open = runs.length;
    const cleanup = (): void => {
      if (--open === 0) signal.removeEventListener('abort', onAbort);
    };
    return runs.map((run, i) => ({
      id: prepared[i]!.id,
      maxTokens: prepared[i]!.sampling.max_tokens,
      [Symbol.asyncIterator]: () => run.events(demux.choice(i), choiceCancels[i]!, cleanup),
    }));
  }

  return {
    idle: (timeoutMs) => active.idle(timeoutMs),
    startGroup,
    start: async (fn, params, signal) => (await startGroup(fn, [params], signal))[0]!,
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
