import type { SamplingRequest } from '../../protocol/sampling.js';
import type { QuotaLimits } from '../quota/quota-limits.js';

export interface InvokeParams {
  /**
   * The invocation id, recorded and returned as `Generation.id`; a fresh UUID when absent. The OpenAI routes
   * pass their response id (`chatcmpl-…`), so what a client sees is what `tidepool logs` lists.
   */
  readonly id?: string;
  readonly promptTokens: readonly number[];
  /** What the caller set, validated at the API edge; the function's defaults fill the rest. */
  readonly sampling: SamplingRequest;
  /** `Date.now()` when the request arrived; TTFT and SLO deadlines count from here. */
  readonly arrivalMs: number;
  /** Who calls (the auth principal): recorded as the invocation's key, and held to the key's limits. */
  readonly caller?: InvocationCaller;
  /**
   * What the request asked for beyond sampling, for the invocation record (`params`): the endpoint, `n` and
   * this choice's index, `response_format`'s type, tool names, `tool_choice`, ...
   */
  readonly features?: Readonly<Record<string, unknown>>;
}

export interface InvocationCaller {
  /** Null in open mode and for the bootstrap key: no key limits, no key on the record. */
  readonly keyId: string | null;
  readonly limits: QuotaLimits | null;
}
