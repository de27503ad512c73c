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
  /** The invocation id the record will carry. */
  readonly id: string;
  readonly fn: ResolvedFunction;
  readonly params: InvokeParams;
  readonly maxTokens: number;
}

/**
 * Admits an invocation under its caller's and its function's quotas, charging prompt + max_tokens. A refusal
 * is recorded as a `rejected` invocation whose error names the limit, so the invocations table keeps one row
 * per request that reached the invoker, and is rethrown as its 429. Quota refusals carry no SLO attainment:
 * the SLO covers what the platform serves, not what a caller's limits hold back.
 */
export function admitWithinQuota(ctx: AdmissionContext): QuotaTicket | undefined {
  const { gate, fn, params } = ctx;
  if (!gate) return undefined;
  try {
    return gate.admit({
      keyId: params.caller?.keyId ?? null,
      keyLimits: params.caller?.limits ?? null,
      functionName: fn.name,
      functionLimits: fn.manifest.limits ?? null,
      tokens: params.promptTokens.length + ctx.maxTokens,
    });
  } catch (error) {
    if (!(error instanceof QuotaExceededError)) throw error;
    ctx.metrics.invocations.inc({ function: fn.name, status: 'rejected' });
    ctx.recorder.record({
      id: ctx.id,
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
      error: `${error.code} (${error.scope}): ${error.message}`,
      startedAt: new Date(params.arrivalMs),
      finishedAt: new Date(ctx.now()),
    });
    throw error;
  }
}
