import type { ControlPlaneMetrics } from '../metrics.js';
import { QuotaExceededError } from '../quota/quota-exceeded.js';
import type { QuotaGate, QuotaTicket } from '../quota/quota-gate.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import type { InvokeParams } from './invoke-params.js';
import type { ResolvedFunction } from './resolved-function.js';

export interface AdmissionContext {
  readonly gate: QuotaGate | undefined;
  readonly recorder: InvocationRecorder;
  readonly metrics: ControlPlaneMetrics;
  readonly now: () => number;
  readonly fn: ResolvedFunction;
}

/** One invocation asking for admission. */
export interface AdmissionChoice {
  /** The invocation id the record will carry. */
  readonly id: string;
  readonly params: InvokeParams;
  readonly maxTokens: number;
}

/**
 * Admits a request's choices (one, or a group of n) under the caller's and the function's quotas, each
 * charged as its own invocation (one request, prompt + max_tokens, one concurrency slot): all or none. A
 * refusal settles the choices already admitted unused, records every choice as a `rejected` invocation whose
 * error names the limit (so the invocations table keeps one row per choice that reached the invoker), and is
 * rethrown as its 429. Quota refusals carry no SLO attainment: the SLO covers what the platform serves, not
 * what a caller's limits hold back.
 */
export function admitGroupWithinQuota(ctx: AdmissionContext, choices: readonly AdmissionChoice[]): (QuotaTicket | undefined)[] {
  const { gate, fn } = ctx;
  if (!gate) return choices.map(() => undefined);
  const tickets: QuotaTicket[] = [];
  try {
    for (const { params, maxTokens } of choices) {
      tickets.push(
        gate.admit({
          keyId: params.caller?.keyId ?? null,
          keyLimits: params.caller?.limits ?? null,
          functionName: fn.name,
          functionLimits: fn.manifest.limits ?? null,
          tokens: params.promptTokens.length + maxTokens,
        }),
      );
    }
    return tickets;
  } catch (error) {
    if (!(error instanceof QuotaExceededError)) throw error;
    for (const ticket of tickets) ticket.settle(0);
    for (const choice of choices) recordRefusal(ctx, choice, `${error.code} (${error.scope}): ${error.message}`);
    throw error;
  }
}

function recordRefusal(ctx: AdmissionContext, { id, params }: AdmissionChoice, message: string): void {
  const { fn } = ctx;
  ctx.metrics.invocations.inc({ function: fn.name, status: 'rejected' });
  ctx.recorder.record({
    id,
    functionName: fn.name,
    version: fn.version,
    apiKeyId: params.caller?.keyId ?? null,
    nodeId: null,
    status: 'rejected',
    promptTokens: params.promptTokens.length,
    completionTokens: 0,
    ttftMs: null,
    tpotMs: null,
    sloAttainment: null,
    sloMet: null,
    error: message,
    startedAt: new Date(params.arrivalMs),
    finishedAt: new Date(ctx.now()),
  });
}
