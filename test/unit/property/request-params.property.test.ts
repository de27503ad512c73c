import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { httpStatus } from '../../../platform/api/http-error.js';
import { TidepoolError } from '../../../protocol/errors.js';
import { parseMessages, readStream, requireObject, requireString } from '../../../platform/api/request-params.js';
import {
  MAX_STOP_LENGTH,
  MAX_STOP_SEQUENCES,
  checkSampling,
  checkSamplingIds,
  readSampling,
  resolveSampling,
  samplingWith,
} from '../../../protocol/sampling.js';

/** The API edge's reading of a body: `stream`, then the sampling parameters. */
function parseSampling(body: Record<string, unknown>) {
  return { stream: readStream(body), ...readSampling(body) };
}

// Property tests of the request validators both APIs share: any body is either accepted with every value
// inside its documented bounds, or refused with a TidepoolError (400) that names the parameter. Never a TypeError.

/** Runs `validate`; a throw must be a TidepoolError with a 400 code whose param is one of `allowed` and is named in its message. */
function outcome<T>(validate: () => T, allowed: readonly string[]): T | undefined {
  try {
    return validate();
  } catch (error) {
    expect(error).toBeInstanceOf(TidepoolError);
    const e = error as TidepoolError;
    expect(httpStatus(e.code)).toBe(400);
    if (e.param !== null) {
      expect(allowed).toContain(e.param);
      expect(e.message).toContain(e.param);
    }
    return undefined;
  }
}

const SAMPLING_KEYS = [
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'stream',
  'top_k',
  'min_p',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
  'logit_bias',
  'min_tokens',
  'ignore_eos',
  'stop_token_ids',
  'include_stop_str_in_output',
  'logprobs',
  'top_logprobs',
];

/** Mostly plausible values with arbitrary ones mixed in, so the checks past the type test are reached. */
const numberish = fc.oneof(
  fc.double(),
  fc.integer({ min: -10, max: 2_000_000 }),
  fc.constantFrom(0, 1, 2, 2 ** 31 - 1, 2 ** 31, Number.MIN_VALUE, 1_000_000, 1_000_001, -0),
  fc.jsonValue(),
);
const stopish = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.array(fc.string({ maxLength: 300 }), { maxLength: 6 }),
  fc.array(fc.jsonValue(), { maxLength: 6 }),
  fc.jsonValue(),
);
const samplingBody = fc.record(
  {
    max_tokens: numberish,
    max_completion_tokens: numberish,
    temperature: numberish,
    top_p: numberish,
    seed: numberish,
    stop: stopish,
    stream: fc.oneof(fc.boolean(), fc.jsonValue()),
    top_k: numberish,
    min_p: numberish,
    presence_penalty: numberish,
    frequency_penalty: numberish,
    repetition_penalty: numberish,
    min_tokens: numberish,
    top_logprobs: numberish,
    ignore_eos: fc.oneof(fc.boolean(), fc.jsonValue()),
    include_stop_str_in_output: fc.oneof(fc.boolean(), fc.jsonValue()),
    logprobs: fc.oneof(fc.boolean(), fc.jsonValue()),
    logit_bias: fc.oneof(fc.dictionary(fc.oneof(fc.nat({ max: 400 }).map(String), fc.string()), numberish, { maxKeys: 4 }), fc.jsonValue()),
    stop_token_ids: fc.oneof(fc.array(fc.nat({ max: 400 }), { maxLength: 4 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

const messageish = fc.oneof(
  fc.record(
    {
      role: fc.constantFrom('system', 'user', 'assistant', 'developer', 'tool', ''),
      content: fc.oneof(
        fc.string(),
        fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: fc.oneof(fc.string(), fc.jsonValue()) }), { maxLength: 3 }),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);

describe('request validators (property)', () => {
  it('requireObject accepts exactly the plain objects', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const body = outcome(() => requireObject(value), []);
        const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
        expect(body !== undefined).toBe(isObject);
      }),
      { numRuns: 200 },
    );
  });

  it('parseSampling keeps every accepted value inside its documented bounds', () => {
    fc.assert(
      fc.property(samplingBody, (body) => {
        const s = outcome(() => parseSampling(body), SAMPLING_KEYS);
        if (!s) return;
        if (s.max_tokens !== undefined) expect(Number.isInteger(s.max_tokens) && s.max_tokens >= 1 && s.max_tokens <= 1_000_000).toBe(true);
        if (s.temperature !== undefined) expect(s.temperature >= 0 && s.temperature <= 2).toBe(true);
        if (s.top_p !== undefined) expect(s.top_p > 0 && s.top_p <= 1).toBe(true);
        if (s.seed !== undefined) expect(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= 2 ** 31 - 1).toBe(true);
        const stops = s.stop ?? [];
        expect(stops.length).toBeLessThanOrEqual(MAX_STOP_SEQUENCES);
        for (const stop of stops) expect(typeof stop === 'string' && stop.length >= 1 && stop.length <= MAX_STOP_LENGTH).toBe(true);
        expect(typeof s.stream).toBe('boolean');
        if (s.top_k !== undefined) expect(Number.isInteger(s.top_k) && s.top_k >= 0).toBe(true);
        if (s.min_p !== undefined) expect(s.min_p >= 0 && s.min_p <= 1).toBe(true);
        for (const penalty of [s.presence_penalty, s.frequency_penalty]) if (penalty !== undefined) expect(Math.abs(penalty)).toBeLessThanOrEqual(2);
        if (s.repetition_penalty !== undefined) expect(s.repetition_penalty > 0 && s.repetition_penalty <= 100).toBe(true);
        if (s.top_logprobs !== undefined) expect(Number.isInteger(s.top_logprobs) && s.top_logprobs >= 0 && s.top_logprobs <= 20).toBe(true);
        for (const [id, bias] of s.logit_bias ?? []) expect(Number.isInteger(id) && id >= 0 && bias >= -100 && bias <= 100).toBe(true);
        // What the edge accepts, completed with any defaults, passes the receiving side's check unchanged, or
        // is refused as a whole for a rule between fields (min_tokens over max_tokens), naming the field.
        const complete = outcome(() => resolveSampling(s, { max_tokens: 16, temperature: 1, top_p: 1 }), ['min_tokens', 'top_logprobs']);
        if (complete) expect(checkSampling(complete)).toBe(complete);
      }),
      { numRuns: 500 },
    );
  });

  it('parseSampling names the offending parameter for each out-of-range value', () => {
    const bad = fc.constantFrom<[string, unknown]>(
      ['max_tokens', 0],
      ['max_tokens', 1.5],
      ['max_tokens', 1_000_001],
      ['max_completion_tokens', -3],
      ['temperature', 2.0001],
      ['temperature', '1'],
      ['top_p', 0],
      ['top_p', 1.5],
      ['seed', -1],
      ['seed', 2 ** 31],
      ['stream', 'true'],
      ['stop', ['a', 'b', 'c', 'd', 'e']],
      ['stop', ['']],
      ['stop', 'x'.repeat(MAX_STOP_LENGTH + 1)],
      ['stop', [1]],
      ['top_k', -2],
      ['top_k', 1.5],
      ['min_p', 1.01],
      ['presence_penalty', 2.5],
      ['frequency_penalty', -2.01],
      ['repetition_penalty', 0],
      ['logit_bias', { 5: 101 }],
      ['logit_bias', { x: 1 }],
      ['logit_bias', [1]],
      ['min_tokens', -1],
      ['ignore_eos', 'yes'],
      ['stop_token_ids', [-1]],
      ['stop_token_ids', 'x'],
      ['include_stop_str_in_output', 1],
      ['logprobs', 'true'],
      ['top_logprobs', 21],
    );
    fc.assert(
      fc.property(bad, ([key, value]) => {
        expect(() => parseSampling({ [key]: value })).toThrow(expect.objectContaining({ code: 'invalid_parameter', param: key }));
      }),
      { numRuns: 50 },
    );
  });

  it('checkSampling refuses an incomplete or out-of-range record on the receiving side, naming the field', () => {
    const good = samplingWith({ max_tokens: 4 });
    expect(checkSampling(good)).toBe(good);
    expect(() => checkSampling({ ...good, min_tokens: 5 })).toThrow(expect.objectContaining({ param: 'sampling.min_tokens' }));
    expect(() => checkSampling({ ...good, top_logprobs: 2 })).toThrow(/sampling\.top_logprobs: needs logprobs: true/);
    expect(() =>
      checkSampling({
        ...good,
        logit_bias: [
          [3, 1],
          [2, 1],
        ],
      }),
    ).toThrow(expect.objectContaining({ param: 'sampling.logit_bias' }));
    expect(() => checkSampling({ ...good, grammar: { hash: 'x', automaton: {} } })).toThrow(expect.objectContaining({ param: 'sampling.grammar' }));
    expect(() => checkSampling({ ...good, top_p: 0 })).toThrow(expect.objectContaining({ code: 'invalid_parameter', param: 'sampling.top_p' }));
    expect(() => checkSampling({ ...good, seed: undefined })).toThrow(/sampling\.seed: required/);
    expect(() => checkSampling('x')).toThrow(/sampling: must be an object/);
  });

  it('reads the spellings of each API: Completions logprobs is a count, max_completion_tokens wins, top_k -1 is off', () => {
    expect(readSampling({ logprobs: 3 }, 'completions')).toMatchObject({ logprobs: true, top_logprobs: 3 });
    expect(readSampling({ logprobs: true, top_logprobs: 2 }, 'chat')).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(() => readSampling({ top_logprobs: 2 }, 'chat')).toThrow(expect.objectContaining({ param: 'top_logprobs' }));
    expect(readSampling({ max_tokens: null, max_completion_tokens: 7 }).max_tokens).toBe(7);
    expect(readSampling({ max_tokens: 3, max_completion_tokens: 7 }).max_tokens).toBe(7);
    expect(readSampling({ top_k: -1 }).top_k).toBe(0);
    expect(readSampling({ logit_bias: { 10: -100, 2: 5 } }).logit_bias).toEqual([
      [2, 5],
      [10, -100],
    ]);
    expect(() =>
      checkSamplingIds(
        {
          logit_bias: [
            [2, 5],
            [320, 1],
          ],
        },
        320,
      ),
    ).toThrow(/logit_bias: token 320 is outside the vocabulary \(ids 0-319\)/);
    expect(() => checkSamplingIds({ stop_token_ids: [400] }, 320)).toThrow(expect.objectContaining({ param: 'stop_token_ids' }));
  });

  it('parseMessages returns only served roles with string content, or names messages', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(messageish, { maxLength: 4 }), fc.jsonValue()), (value) => {
        const messages = outcome(() => parseMessages(value), ['messages']);
        if (!messages) return;
        expect(messages.length).toBeGreaterThan(0);
        for (const m of messages) {
          expect(['system', 'user', 'assistant']).toContain(m.role);
          expect(typeof m.content).toBe('string');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('requireString returns a non-empty string or names the key', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const s = outcome(() => requireString({ model: value }, 'model'), ['model']);
        if (s !== undefined) expect(typeof s === 'string' && s.length > 0).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
