import { Counter, type Registry } from 'prom-client';
import { QuotaExceededError, type QuotaScope } from './quota-exceeded.js';
import { hasLimits, type QuotaLimitName, type QuotaLimits } from './quota-limits.js';
import { SlidingWindow, type WindowCharge } from './sliding-window.js';

/** One request asking for admission. */
export interface QuotaRequest {
  /** The caller's API key id; null (bootstrap key, open mode) has no key limits. */
  readonly keyId: string | null;
  readonly keyLimits: QuotaLimits | null;
  readonly functionName: string;
  /** From the function's manifest (`limits:`), shared by every caller of the function. */
  readonly functionLimits: QuotaLimits | null;
  /** prompt + max_tokens: the most the generation can use, charged up front so tpm never overshoots. */
  readonly tokens: number;
}

/** An admitted request's hold on its quotas. */
export interface QuotaTicket {
  /**
   * Ends the request: frees its concurrency slot and refunds the tokens it did not use (`usedTokens` of the
   * `tokens` charged). Only the first call counts.
   */
  settle(usedTokens: number): void;
}

/**
 * Admission against per-key and per-function limits: requests per minute, tokens per minute (sliding
 * windows) and requests in flight. State lives in this process's memory: with N control-plane replicas each
 * enforces the limits on its own share of the traffic.
 */
export interface QuotaGate {
  /** Admits the request under every applicable limit, or throws `QuotaExceededError` and charges nothing. */
  admit(request: QuotaRequest): QuotaTicket;
}

export interface QuotaGateOptions {
  readonly now?: () => number;
  readonly windowMs?: number;
  /** Registers `tidepool_quota_rejections_total{function,scope,limit}` here. */
  readonly registry?: Registry;
}

/** Usage of one key or one function. */
interface ScopeUsage {
  readonly requests: SlidingWindow;
  readonly tokens: SlidingWindow;
  inFlight: number;
}

interface Applied {
  readonly scope: QuotaScope;
  readonly label: string;
  readonly limits: QuotaLimits;
  readonly usage: ScopeUsage;
}

interface Refusal {
  readonly applied: Applied;
  readonly limit: QuotaLimitName;
  readonly waitMs: number;
}

/** Beyond this many tracked keys plus functions, idle ones are forgotten (they hold no usage). */
const SWEEP_AT = 1000;

export function createQuotaGate(options: QuotaGateOptions = {}): QuotaGate {
  const now = options.now ?? Date.now;
  const usages = new Map<string, ScopeUsage>();
  const rejections = options.registry
    ? new Counter({
        name: 'tidepool_quota_rejections_total',
        help: 'Requests refused with 429 by a quota, by function, whose limit (key or function) and which (rpm, tpm, concurrency).',
        labelNames: ['function', 'scope', 'limit'] as const,
        registers: [options.registry],
      })
    : undefined;

  function usageOf(id: string, at: number): ScopeUsage {
    let usage = usages.get(id);
    if (usage) return usage;
    if (usages.size >= SWEEP_AT) {
      for (const [key, u] of usages) if (u.inFlight === 0 && u.requests.isEmpty(at) && u.tokens.isEmpty(at)) usages.delete(key);
    }
    usage = { requests: new SlidingWindow({ windowMs: options.windowMs }), tokens: new SlidingWindow({ windowMs: options.windowMs }), inFlight: 0 };
    usages.set(id, usage);
    return usage;
  }

  return {
    admit(request) {
      const at = now();
      const applied: Applied[] = [];
      if (request.keyId !== null && hasLimits(request.keyLimits)) {
        applied.push({ scope: 'key', label: `API key ${request.keyId}`, limits: request.keyLimits, usage: usageOf(`key:${request.keyId}`, at) });
      }
      if (hasLimits(request.functionLimits)) {
        applied.push({
          scope: 'function',
          label: `function ${request.functionName}`,
          limits: request.functionLimits,
          usage: usageOf(`fn:${request.functionName}`, at),
        });
      }
      const refusals = applied.flatMap((a) => check(a, request.tokens, at));
      if (refusals.length > 0) {
        // The longest wait is the binding one: retrying sooner would only be refused again.
        const worst = refusals.reduce((a, b) => (b.waitMs > a.waitMs ? b : a));
        rejections?.inc({ function: request.functionName, scope: worst.applied.scope, limit: worst.limit });
        throw refusalError(worst, request.tokens);
      }
      const holds = applied.map((a) => {
        a.usage.requests.charge(1, at);
        a.usage.inFlight++;
        return { usage: a.usage, tokens: a.usage.tokens.charge(request.tokens, at) };
      });
      return ticket(holds, request.tokens);
    },
  };
}

function check(applied: Applied, tokens: number, at: number): Refusal[] {
  const { limits, usage } = applied;
  const refusals: Refusal[] = [];
  if (limits.concurrency !== null && usage.inFlight >= limits.concurrency) refusals.push({ applied, limit: 'concurrency', waitMs: 1000 });
  const rpmWait = limits.rpm === null ? 0 : usage.requests.waitMs(1, limits.rpm, at);
  if (rpmWait > 0) refusals.push({ applied, limit: 'rpm', waitMs: rpmWait });
  const tpmWait = limits.tpm === null ? 0 : usage.tokens.waitMs(tokens, limits.tpm, at);
  if (tpmWait > 0) refusals.push({ applied, limit: 'tpm', waitMs: tpmWait });
  return refusals;
}

function ticket(holds: readonly { readonly usage: ScopeUsage; readonly tokens: WindowCharge }[], charged: number): QuotaTicket {
  let settled = false;
  return {
    settle(usedTokens) {
      if (settled) return;
      settled = true;
      const unused = charged - Math.min(charged, Math.max(0, usedTokens));
      for (const hold of holds) {
        hold.usage.inFlight--;
        hold.tokens.refund(unused);
      }
    },
  };
}

function refusalError(refusal: Refusal, tokens: number): QuotaExceededError {
  const { applied, limit, waitMs } = refusal;
  const owner = `${applied.label}'s`;
  const retry = `retry in ${Math.max(1, Math.ceil(waitMs / 1000))} s`;
  let message: string;
  if (limit === 'concurrency') {
    message = `concurrency limit reached: ${owner} limit is ${applied.limits.concurrency} request(s) at once; retry when one finishes`;
  } else if (limit === 'rpm') {
    message = `rate limit reached: ${owner} limit is ${applied.limits.rpm} requests per minute (rpm); ${retry}`;
  } else if (!Number.isFinite(waitMs)) {
    message = `request too large: it needs ${tokens} tokens (prompt + max_tokens) but ${owner} whole limit is ${applied.limits.tpm} tokens per minute (tpm); lower max_tokens or shorten the prompt`;
  } else {
    message = `rate limit reached: ${owner} limit is ${applied.limits.tpm} tokens per minute (tpm) and this request needs ${tokens} (prompt + max_tokens); ${retry}`;
  }
  return new QuotaExceededError(applied.scope, limit, message, waitMs);
}
