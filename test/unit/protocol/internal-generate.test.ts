import { describe, expect, it } from 'vitest';
import { ChoiceProgress } from '../../../protocol/choice-progress.js';
import { generateRequestToWire, parseChoiceCancel, parseGenerateRequest, parseNodeEvent, parseRefusal } from '../../../protocol/internal-generate.js';
import { engineSampling, samplingWith } from '../../../protocol/sampling.js';
import { realDigest } from '../../helpers/weights-digest.js';

const digest = realDigest('a');
const request = () => ({
  id: 'r1',
  functionName: 'fn',
  version: 1,
  artifact: { weightsDigest: digest, bytes: 10, files: [{ name: 'model.safetensors', digest, size: 10 }] },
  promptTokens: [1, 2],
  sampling: samplingWith({
    max_tokens: 4,
    temperature: 0.5,
    seed: 7,
    stop: ['\n'],
    logit_bias: [[3, -5]],
    stop_token_ids: [9],
    logprobs: true,
    top_logprobs: 2,
  }),
  stopTokenIds: [2],
  slo: { ttftMs: 1000, tpotMs: 100 },
  keepWarmMs: 0,
});
const body = () => generateRequestToWire(request());

describe('/internal/generate wire schema', () => {
  it('reads a request the control plane sends, unchanged, the weights digest named `digest` on the wire', () => {
    const sent = request();
    const wire = JSON.parse(JSON.stringify(generateRequestToWire(sent)));
    expect(wire.artifact).toEqual({ digest, bytes: 10, files: sent.artifact.files });
    expect(parseGenerateRequest(wire)).toEqual(sent);
  });

  it('refuses a malformed request naming the field, the sampling record checked by its own table', () => {
    const bad = (patch: Record<string, unknown>) => () => parseGenerateRequest({ ...body(), ...patch });
    expect(bad({ promptTokens: [] })).toThrow(expect.objectContaining({ code: 'invalid_parameter', param: 'promptTokens' }));
    expect(bad({ promptTokens: [1, -2] })).toThrow(/promptTokens: must be an array of token ids/);
    expect(bad({ sampling: { ...body().sampling, temperature: 3 } })).toThrow(expect.objectContaining({ param: 'sampling.temperature' }));
    expect(bad({ sampling: { max_tokens: 4 } })).toThrow(/sampling\.temperature: required/);
    expect(bad({ artifact: { ...body().artifact, digest: 'md5:x' } })).toThrow(/artifact\.digest/);
    expect(bad({ slo: { ttftMs: 0, tpotMs: 1 } })).toThrow(/slo\.ttftMs/);
    expect(() => parseGenerateRequest('x')).toThrow(/body: must be an object/);
  });

  it('reads each NDJSON event, a failed end with its coded error, and refuses anything else', () => {
    expect(parseNodeEvent({ type: 'token', token: 5 })).toEqual({ type: 'token', token: 5 });
    const logged = {
      type: 'token',
      token: 5,
      logprob: {
        logprob: -0.5,
        top: [
          [5, -0.5],
          [7, -1.25],
        ],
      },
    };
    expect(parseNodeEvent(logged)).toEqual(logged);
    expect(parseNodeEvent({ type: 'token', token: 5, logprob: { logprob: -1, top: [[5, null]] } })).toEqual({
      type: 'token',
      token: 5,
      logprob: { logprob: -1, top: [[5, -Infinity]] },
    });
    expect(() => parseNodeEvent({ type: 'token', token: 5, logprob: { logprob: 0.5, top: [] } })).toThrow(/event\.logprob\.logprob/);
    const embedded = { type: 'done', reason: 'stop', promptTokens: 2, completionTokens: 0, embedding: [0.6, 0.8] };
    expect(parseNodeEvent(embedded)).toEqual(embedded);
    expect(() => parseNodeEvent({ ...embedded, embedding: ['x'] })).toThrow(/event\.embedding/);
    const failed = { type: 'done', reason: 'error', promptTokens: 2, completionTokens: 1, error: { code: 'engine_down', message: 'gone' } };
    expect(parseNodeEvent(failed)).toEqual(failed);
    expect(() => parseNodeEvent({ type: 'done', reason: 'exploded', promptTokens: 0, completionTokens: 0 })).toThrow(/event\.reason/);
    expect(() => parseNodeEvent({ ...failed, error: { code: 'no_such_code', message: 'x' } })).toThrow(/event\.error\.code/);
    expect(() => parseNodeEvent({ type: 'token', token: 1.5 })).toThrow(/event\.token/);
  });

  it("reads a group: one seed per choice, choice 0 the record's own, at most 16; its events carry their choice", () => {
    const group = { ...request(), seeds: [7, 8, 9] };
    expect(parseGenerateRequest(JSON.parse(JSON.stringify(generateRequestToWire(group))))).toEqual(group);
    const bad = (patch: Record<string, unknown>) => () => parseGenerateRequest({ ...body(), ...patch });
    expect(bad({ seeds: [] })).toThrow(expect.objectContaining({ code: 'invalid_parameter', param: 'seeds' }));
    expect(bad({ seeds: Array.from({ length: 17 }, (_, i) => 7 + i) })).toThrow(/seeds: must be an array of 1 to 16 seeds/);
    expect(bad({ seeds: [7, 2 ** 31] })).toThrow(expect.objectContaining({ param: 'seeds[1]' }));
    expect(bad({ seeds: [7, 1.5] })).toThrow(/seeds\[1\]: must be an integer in \[0, 2147483647\]/);
    expect(bad({ seeds: [8, 9] })).toThrow(expect.objectContaining({ param: 'seeds[0]', message: expect.stringMatching(/must equal sampling\.seed \(7\)/) }));
    expect(bad({ seeds: [7, 8], sampling: { ...body().sampling, embed: 'mean' } })).toThrow(/seeds: an embedding/);
    expect(parseNodeEvent({ type: 'token', token: 5, choice: 3 })).toEqual({ type: 'token', token: 5, choice: 3 });
    const done = { type: 'done', reason: 'length', promptTokens: 2, completionTokens: 4, choice: 15 };
    expect(parseNodeEvent(done)).toEqual(done);
    expect(() => parseNodeEvent({ ...done, choice: 16 })).toThrow(/event\.choice: must be below 16/);
    expect(() => parseNodeEvent({ ...done, choice: -1 })).toThrow(/event\.choice/);
  });

  it('reads a choice cancel naming the request and the choice', () => {
    expect(parseChoiceCancel({ id: 'r1', choice: 2 })).toEqual({ id: 'r1', choice: 2 });
    expect(() => parseChoiceCancel({ id: '', choice: 2 })).toThrow(expect.objectContaining({ param: 'id' }));
    expect(() => parseChoiceCancel({ id: 'r1', choice: 16 })).toThrow(expect.objectContaining({ param: 'choice' }));
    expect(() => parseChoiceCancel({ id: 'r1' })).toThrow(/choice: must be a non-negative integer/);
  });

  it('ends every choice a broken stream left open, each with its own token count', () => {
    const progress = new ChoiceProgress({ promptTokens: [1, 2], seeds: [7, 8, 9] });
    progress.see({ type: 'token', token: 1, choice: 0 });
    progress.see({ type: 'token', token: 1, choice: 2 });
    progress.see({ type: 'token', token: 1, choice: 2 });
    progress.see({ type: 'done', reason: 'stop', promptTokens: 2, completionTokens: 1, choice: 0 });
    expect(progress.totalTokens).toBe(3);
    expect(progress.done).toBe(false);
    const error = { code: 'engine_down' as const, message: 'node lost' };
    expect(progress.endOpen('error', error)).toEqual([
      { type: 'done', reason: 'error', promptTokens: 2, completionTokens: 0, choice: 1, error },
      { type: 'done', reason: 'error', promptTokens: 2, completionTokens: 2, choice: 2, error },
    ]);
    expect(progress.done).toBe(true);
    expect(new ChoiceProgress({ promptTokens: [1] }).endOpen('cancelled')).toEqual([
      { type: 'done', reason: 'cancelled', promptTokens: 1, completionTokens: 0 },
    ]);
  });

  it('reads a refusal body, and a body that is not one as engine_down', () => {
    expect(parseRefusal({ error: { code: 'queue_full', message: 'full', retryAfterMs: 2000 } }, 'x')).toEqual({
      code: 'queue_full',
      message: 'full',
      retryAfterMs: 2000,
    });
    expect(parseRefusal({ error: { code: 'teapot' } }, 'node n answered 418')).toEqual({ code: 'engine_down', message: 'node n answered 418' });
    expect(parseRefusal('<html>', 'node n answered 502')).toEqual({ code: 'engine_down', message: 'node n answered 502' });
  });

  it('sends the engine only the fields it applies, under its names: stop strings are cut by the control plane', () => {
    expect(engineSampling(body().sampling)).toEqual({
      max_tokens: 4,
      temperature: 0.5,
      top_p: 1,
      seed: 7,
      top_k: 0,
      min_p: 0,
      presence_penalty: 0,
      frequency_penalty: 0,
      repetition_penalty: 1,
      logit_bias: [[3, -5]],
      min_tokens: 0,
      ignore_eos: false,
      stop_ids: [9],
      logprobs: true,
      top_logprobs: 2,
      embed: null,
    });
  });
});
