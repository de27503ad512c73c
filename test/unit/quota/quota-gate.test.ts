import { Registry } from 'prom-client';
import { errorHeaders, httpStatus } from '../../../platform/api/http-error.js';
import { describe, expect, it } from 'vitest';
import { QuotaExceededError } from '../../../platform/quota/quota-exceeded.js';
import { createQuotaGate, type QuotaRequest } from '../../../platform/quota/quota-gate.js';
import { UNLIMITED, type QuotaLimits } from '../../../platform/quota/quota-limits.js';

const limits = (l: Partial<QuotaLimits>): QuotaLimits => ({ ...UNLIMITED, ...l });
const req = (r: Partial<QuotaRequest>): QuotaRequest => ({ keyId: 'k1', keyLimits: null, functionName: 'fn', functionLimits: null, tokens: 10, ...r });

function refusal(run: () => unknown): QuotaExceededError {
  try {
    run();
  } catch (error) {
    if (error instanceof QuotaExceededError) return error;
    throw error;
  }
  throw new Error('expected a QuotaExceededError');
}

describe('quota gate', () => {
  it('refuses the third request of an rpm-2 key with the seconds until the first leaves the window', () => {
    let clock = 5_000;
    const gate = createQuotaGate({ now: () => clock });
    const r = req({ keyLimits: limits({ rpm: 2 }) });
    gate.admit(r).settle(10);
    clock = 30_000;
    gate.admit(r).settle(10);
    const e = refusal(() => gate.admit(r));
    expect(e).toMatchObject({ code: 'rate_limit_rpm', scope: 'key', limit: 'rpm' });
    expect(httpStatus(e.code)).toBe(429);
    expect(errorHeaders(e)).toEqual({ 'Retry-After': '36', 'X-RateLimit-Scope': 'key' });
    expect(e.message).toBe("rate limit reached: API key k1's limit is 2 requests per minute (rpm); retry in 36 s");
    // Another key is not affected; the same key is admitted once the first request left the window.
    gate.admit({ ...r, keyId: 'k2' });
    clock = 66_000;
    gate.admit(r);
  });

  it('charges prompt + max_tokens at admission and refunds what the generation did not use', () => {
    let clock = 0;
    const gate = createQuotaGate({ now: () => clock });
    const r = req({ keyLimits: limits({ tpm: 100 }), tokens: 60 });
    const first = gate.admit(r);
    // While the first may still use all 60, a second 60 would overshoot.
    expect(refusal(() => gate.admit(r))).toMatchObject({ code: 'rate_limit_tpm', scope: 'key' });
    clock = 2_000;
    first.settle(15);
    first.settle(0); // only the first settle counts
    const second = gate.admit(r);
    expect(errorHeaders(refusal(() => gate.admit(req({ keyLimits: limits({ tpm: 100 }), tokens: 26 }))))['Retry-After']).toBe('59');
    second.settle(60);
    const tooLarge = refusal(() => gate.admit(req({ keyLimits: limits({ tpm: 100 }), tokens: 101 })));
    expect(tooLarge.code).toBe('rate_limit_tpm');
    expect(tooLarge.message).toMatch(/needs 101 tokens .* whole limit is 100 tokens per minute/);
    expect(errorHeaders(tooLarge)['Retry-After']).toBeUndefined();
  });

  it('holds a concurrency slot until settle', () => {
    const gate = createQuotaGate({ now: () => 0 });
    const r = req({ keyLimits: limits({ concurrency: 1 }) });
    const first = gate.admit(r);
    const e = refusal(() => gate.admit(r));
    expect(e).toMatchObject({ code: 'concurrency_limit', scope: 'key' });
    expect(errorHeaders(e)['Retry-After']).toBe('1');
    first.settle(10);
    gate.admit(r);
  });

  it('shares function limits across keys and names the function; an unlimited caller passes key checks', () => {
    const registry = new Registry();
    const gate = createQuotaGate({ now: () => 0, registry });
    const fnLimits = limits({ rpm: 1 });
    gate.admit(req({ keyId: null, functionLimits: fnLimits }));
    const e = refusal(() => gate.admit(req({ keyId: 'other', keyLimits: limits({ rpm: 100 }), functionLimits: fnLimits })));
    expect(e).toMatchObject({ code: 'rate_limit_rpm', scope: 'function' });
    expect(e.message).toContain("function fn's limit is 1 requests per minute");
    expect(errorHeaders(e)['X-RateLimit-Scope']).toBe('function');
    for (let i = 0; i < 50; i++) gate.admit(req({ keyId: null, keyLimits: limits({ rpm: 1 }), functionName: 'free' }));
    return registry.metrics().then((text) => expect(text).toContain('tidepool_quota_rejections_total{function="fn",scope="function",limit="rpm"} 1'));
  });

  it('charges nothing when any limit refuses, and reports the longest wait', () => {
    const gate = createQuotaGate({ now: () => 0 });
    const keyLimits = limits({ rpm: 10, concurrency: 1 });
    const functionLimits = limits({ rpm: 1 });
    const held = gate.admit(req({ keyLimits, functionLimits }));
    // Both the key's concurrency (1 s) and the function's rpm (61 s) refuse: the function's wait is binding.
    const e = refusal(() => gate.admit(req({ keyLimits, functionLimits })));
    expect(e).toMatchObject({ code: 'rate_limit_rpm', scope: 'function' });
    held.settle(10);
    // The refused attempt used no rpm budget of the key: 9 more fit this minute, after the first one.
    for (let i = 0; i < 9; i++) gate.admit(req({ keyLimits: limits({ rpm: 10 }) })).settle(0);
    expect(refusal(() => gate.admit(req({ keyLimits: limits({ rpm: 10 }) }))).code).toBe('rate_limit_rpm');
  });
});
