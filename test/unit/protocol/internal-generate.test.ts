import { describe, expect, it } from 'vitest';
import { generateRequestToWire, parseGenerateRequest, parseNodeEvent, parseRefusal } from '../../../protocol/internal-generate.js';
import { engineSampling, samplingWith } from '../../../protocol/sampling.js';

const digest = `sha256:${'a'.repeat(64)}`;
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
