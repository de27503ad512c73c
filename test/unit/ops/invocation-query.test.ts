import { describe, expect, it } from 'vitest';
import { httpStatus } from '../../../platform/api/http-error.js';
import { TidepoolError } from '../../../protocol/errors.js';
import { parseInvocationQuery } from '../../../platform/ops/invocation-query.js';

function refusal(query: Record<string, unknown>): TidepoolError {
  try {
    parseInvocationQuery(query);
  } catch (error) {
    return error as TidepoolError;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('GET /v1/invocations parameters', () => {
  it('default to 50 newest rows of every function', () => {
    expect(parseInvocationQuery({})).toEqual({ limit: 50 });
  });

  it('read function, limit, statuses, after, and since as a time or an id', () => {
    expect(parseInvocationQuery({ function: 'chat', limit: '7', status: 'error,rejected,error', after: 'inv-1' })).toEqual({
      functionName: 'chat',
      limit: 7,
      statuses: ['error', 'rejected'],
      after: 'inv-1',
    });
    expect(parseInvocationQuery({ since: '2026-11-24T07:00:00Z' }).since).toEqual({ at: new Date('2026-11-24T07:00:00Z') });
    expect(parseInvocationQuery({ since: 'c0ffee-id' }).since).toEqual({ id: 'c0ffee-id' });
  });

  it('refuse each bad parameter with 400 invalid_parameter naming it', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ limit: '0' }, 'limit', /from 1 to 1000/],
      [{ limit: '2.5' }, 'limit', /integer/],
      [{ status: 'ok' }, 'status', /unknown status "ok"/],
      [{ since: '2026-02-30Tnope' }, 'since', /ISO 8601/],
      [{ function: ['a', 'b'] }, 'function', /once/],
      [{ after: '' }, 'after', /empty/],
      [{ page: '2' }, 'page', /unknown parameter page/],
      [{ after: 'x', since: 'y' }, 'since', /cannot be combined/],
    ];
    for (const [query, param, message] of cases) {
      const error = refusal(query);
      expect(error, JSON.stringify(query)).toBeInstanceOf(TidepoolError);
      expect({ status: httpStatus(error.code), code: error.code, param: error.param }).toEqual({ status: 400, code: 'invalid_parameter', param });
      expect(error.message).toMatch(message);
    }
  });
});
