import type { NodeEvent } from '../../protocol/node-runtime.js';
import { requestAttainment, tokenDeadline } from '../../protocol/slo.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { SamplingParams } from '../../protocol/sampling.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { InflightJournal } from './inflight-journal.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import type { InvokeParams } from './invoke-params.js';
import { recordedParams } from './recorded-params.js';
import { type LoggedToken, OutputText } from './output-text.js';
import type { ResolvedFunction } from './resolved-function.js';

export type GenerationEvent =
  /** `tokens`: with `logprobs`, the tokens behind this text (possibly empty text). */
  | { readonly type: 'text'; readonly text: string; readonly tokens?: readonly LoggedToken[] }
  /** `embedding`: an embedding function's result (`sampling.embed`). */
  | { readonly type: 'done'; readonly finishReason: 'stop' | 'length'; readonly usage: Usage; readonly embedding?: readonly number[] };

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface RunContext {
  readonly id: string;
  readonly fn: ResolvedFunction;
  readonly params: InvokeParams;
  readonly sampling: SamplingParams;
  readonly nodeId: string | null;
  readonly recorder: InvocationRecorder;
  readonly metrics: ControlPlaneMetrics;
  /** Invocations in flight, on disk (local mode): the run ends its entry once the record is written. */
  readonly journal?: InflightJournal;
  readonly now: () => number;
  /** Called once, after the record, with the tokens the generation used (prompt + completion; 0 if refused). */
  readonly onFinished: (usedTokens: number) => void;
}

/** One generation's text pipeline (ids → text → stop cut, logprobs) and its bookkeeping for the invocation record. */
export class GenerationRun {
  private readonly tokenTimes: number[] = [];
  private completionTokens = 0;
  private finished = false;

  constructor(private readonly ctx: RunContext) {}

  /**
   * The generation's events from its node events (`rest`). `cancel` is what stops its sequence on the node
   * (a stop string matched, the consumer left early); `cleanup` runs once at the end.
   */
  async *events(rest: AsyncIterator<NodeEvent>, cancel: AbortController, cleanup: () => void): AsyncGenerator<GenerationEvent> {
    const { fn, params, sampling } = this.ctx;
    const output = new OutputText(fn.tokenizer, sampling);
    let status = 'cancelled';
    let failure: unknown;
    // Set once the node reported `done`: its sequence is over, so there is nothing left to cancel.
    let nodeDone = false;
    try {
      for (let next = await rest.next(); !next.done; next = await rest.next()) {
        const event = next.value;
        if (event.type === 'done') {
          nodeDone = true;
          status = this.onDone(event);
          const tail = output.end();
          if (tail.text || tail.tokens.length > 0) yield textEvent(tail.text, tail.tokens, sampling);
          const finishReason = tail.stopped || event.reason === 'stop' ? 'stop' : 'length';
          const embedding = event.embedding === undefined ? {} : { embedding: event.embedding };
          yield { type: 'done', finishReason, usage: this.usage(event.promptTokens), ...embedding };
          return;
        }
        this.onToken();
        const piece = output.token(event.token, event.logprob);
        if (piece.text || piece.tokens.length > 0) yield textEvent(piece.text, piece.tokens, sampling);
        if (piece.stopped) {
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

  private onDone(event: Extract<NodeEvent, { type: 'done' }>): string {
    if (event.reason === 'error') {
      // The engine process died under it: the same request can succeed on the restarted engine (retryable).
      if (event.error?.code === 'engine_down') {
        throw new TidepoolError('engine_down', `generation failed: ${event.error.message}`, { retryAfterMs: 1_000 });
      }
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
    const { fn, params, metrics, now } = this.ctx;
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
      metrics.sloAttainment.observe({ function: fn.name }, attainment);
      metrics.sloTokens.inc({ function: fn.name, outcome: 'on_time' }, onTime);
      metrics.sloTokens.inc({ function: fn.name, outcome: 'late' }, expected - onTime);
    }
    metrics.invocations.inc({ function: fn.name, status });
    if (ttftMs !== null) metrics.ttft.observe({ function: fn.name }, ttftMs / 1000);
    if (tpotMs !== null) metrics.tpot.observe({ function: fn.name }, tpotMs / 1000);
    metrics.completionTokens.inc({ function: fn.name }, this.completionTokens);
    this.ctx.recorder.record({
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
      params: recordedParams(this.ctx.sampling, params.features),
      startedAt: new Date(arrival),
      finishedAt: new Date(now()),
    });
    this.ctx.journal?.end(this.ctx.id);
    this.ctx.onFinished(status === 'rejected' ? 0 : params.promptTokens.length + this.completionTokens);
  }
}

function textEvent(text: string, tokens: readonly LoggedToken[], sampling: SamplingParams): GenerationEvent {
  return sampling.logprobs ? { type: 'text', text, tokens } : { type: 'text', text };
}
