import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';

// Structured outputs and tools with the official OpenAI client, on the random-weight tiny-chat model: the
// output is constrained by the engine, so it parses and validates whatever the weights say.
if (!ENGINE_BUILT) console.log('openai structured e2e: skipped, the engine binary is not built (node scripts/build-engine.mjs)');

const ajv = new Ajv2020({ strict: false });

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Lima'] }, unit: { enum: ['c', 'f'] } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};
const ADD = {
  type: 'function' as const,
  function: {
    name: 'add',
    parameters: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 99 }, b: { type: 'integer' } }, required: ['a', 'b'] },
  },
};
const TOOLS = [WEATHER, ADD];
const schemaOf = (name: string) => TOOLS.find((t) => t.function.name === name)!.function.parameters;

/** A schema of most enforced keywords, with bounded strings and arrays so a random model finishes inside max_tokens. */
const RECORD_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: -5, maximum: 500 },
    label: { anyOf: [{ type: 'string', maxLength: 6 }, { type: 'null' }] },
    kind: { const: 'tide' },
    level: { type: 'number' },
    ok: { type: 'boolean' },
    where: { $ref: '#/$defs/place' },
    tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
  },
  required: ['id', 'kind', 'where', 'tags'],
  additionalProperties: false,
  $defs: { place: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, name: { type: 'string', maxLength: 4 } }, required: ['x'] } },
};

describe.skipIf(!ENGINE_BUILT)('structured outputs and tools end to end (real CPU engine, random weights)', () => {
  let server: E2eServer;
  let client: OpenAI;
  const messages = [{ role: 'user' as const, content: 'Give me the record.' }];
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    const api = createApiClient({ baseUrl: server.url });
    for (const name of ['tiny-chat', 'tiny-qwen'])
      await deployFunction(api, await prepareFunctionDir(`functions/${name}`, server.dataDir), { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 300_000);
  afterAll(async () => server?.close());

  it('chat.completions.parse with a zod schema: every choice parses and validates', async () => {
    const Answer = z.object({ city: z.enum(['Paris', 'Lima']), days: z.int().min(0).max(9), tags: z.array(z.string().max(4)).max(2), sunny: z.boolean() });
    const r = await client.chat.completions.parse({
      model: 'tiny-chat',
      messages,
      max_tokens: 200,
      temperature: 1,
      seed: 2,
      n: 4,
      response_format: zodResponseFormat(Answer, 'answer'),
    });
    expect(r.choices).toHaveLength(4);
    for (const choice of r.choices) {
      expect(choice.finish_reason).toBe('stop');
      expect(Answer.parse(choice.message.parsed)).toEqual(choice.message.parsed);
    }
  });

  it('json_schema with anyOf, $ref/$defs, const, null, numbers and additionalProperties: false, whole and streamed', async () => {
    const response_format = { type: 'json_schema' as const, json_schema: { name: 'record', schema: RECORD_SCHEMA, strict: true } };
    const validate = ajv.compile(RECORD_SCHEMA);
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 300, temperature: 1, seed, response_format });
      expect(r.choices[0]!.finish_reason).toBe('stop');
      const value = JSON.parse(r.choices[0]!.message.content!);
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
    }
    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 300,
      temperature: 1,
      seed: 4,
      response_format,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(validate(JSON.parse(text))).toBe(true);
  });

  it('json_object, and on /v1/completions (a vLLM extension); max_tokens cutting the JSON finishes with length', async () => {
    const cut = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 2, response_format: { type: 'json_object' } });
    expect(cut.choices[0]!.finish_reason).toBe('length');
    expect(cut.choices[0]!.message.content!.startsWith('{')).toBe(true);
    const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['n'], additionalProperties: false };
    const completion = await client.completions.create({
      model: 'tiny-chat',
      prompt: 'n:',
      max_tokens: 50,
      temperature: 1,
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema } },
    } as never);
    expect(ajv.validate(schema, JSON.parse(completion.choices[0]!.text))).toBe(true);
  });

  it('refuses what cannot be enforced with a 400 naming the keyword, and functions that cannot be constrained', async () => {
    const format = (schema: unknown) => ({ type: 'json_schema' as const, json_schema: { name: 'x', schema: schema as Record<string, unknown> } });
    await expect(
      client.chat.completions.create({ model: 'tiny-chat', messages, response_format: format({ type: 'string', pattern: '^a' }) }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'unsupported_schema',
      param: 'response_format.json_schema.schema',
      message: expect.stringContaining('"pattern"'),
    });
    await expect(
      client.chat.completions.create({ model: 'tiny-chat', messages, response_format: format({ type: 'string', maxLength: 100_000 }) }),
    ).rejects.toMatchObject({ status: 400, code: 'schema_too_large' });
    await expect(client.chat.completions.create({ model: 'tiny-qwen', messages, response_format: { type: 'json_object' } })).rejects.toMatchObject({
      status: 400,
      param: 'response_format',
      message: expect.stringContaining('no end-of-sequence token'),
    });
  });

  it('tool_choice required and named: exactly one call whose arguments validate, finish_reason tool_calls', async () => {
    for (const seed of [1, 2]) {
      const r = await client.chat.completions.create({
        model: 'tiny-chat',
        messages,
        tools: TOOLS,
        tool_choice: 'required',
        parallel_tool_calls: false,
        max_tokens: 100,
        temperature: 1,
        seed,
      });
      const [call, ...rest] = r.choices[0]!.message.tool_calls!;
      expect(rest).toEqual([]);
      expect(r.choices[0]!.finish_reason).toBe('tool_calls');
      if (call!.type !== 'function') throw new Error('expected a function call');
      expect(call!.id).toMatch(/^call_/);
      expect(ajv.validate(schemaOf(call!.function.name), JSON.parse(call!.function.arguments))).toBe(true);
    }
    const named = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'add' } },
      max_tokens: 100,
      temperature: 1,
      seed: 5,
    });
    const call = named.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('add');
    expect(ajv.validate(ADD.function.parameters, JSON.parse(call.function.arguments))).toBe(true);
  });

  it('streams tool-call deltas as OpenAI does: id and name first, then argument pieces', async () => {
    const request = {
      model: 'tiny-chat',
      messages,
      tools: TOOLS,
      tool_choice: 'required' as const,
      parallel_tool_calls: false,
      max_tokens: 100,
      temperature: 0,
    };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(deltas[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: expect.any(String), arguments: '' } });
    const args = deltas.map((d) => d.function?.arguments ?? '').join('');
    const wholeCall = whole.choices[0]!.message.tool_calls![0]!;
    if (wholeCall.type !== 'function') throw new Error('expected a function call');
    expect({ name: deltas[0]!.function!.name, args }).toEqual({ name: wholeCall.function.name, args: wholeCall.function.arguments });
  });

  it('accepts tool-call histories and legacy functions; an unknown tool name is a 400', async () => {
    const history = [
      ...messages,
      {
        role: 'assistant' as const,
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'add', arguments: '{"a": 1, "b": 2}' } }],
      },
      { role: 'tool' as const, tool_call_id: 'call_1', content: '3' },
    ];
    const answered = await client.chat.completions.create({ model: 'tiny-chat', messages: history, tools: TOOLS, max_tokens: 5 });
    expect(answered.choices[0]!.finish_reason).toMatch(/^(stop|length|tool_calls)$/);
    const legacy = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 100,
      temperature: 1,
      seed: 3,
      functions: [ADD.function],
      function_call: { name: 'add' },
    });
    expect(legacy.choices[0]!.finish_reason).toBe('function_call');
    expect(ajv.validate(ADD.function.parameters, JSON.parse(legacy.choices[0]!.message.function_call!.arguments))).toBe(true);
    await expect(
      client.chat.completions.create({ model: 'tiny-chat', messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }),
    ).rejects.toMatchObject({
      status: 400,
      param: 'tool_choice',
      message: expect.stringContaining('"nope" is not among tools'),
    });
  });

  it('tools under auto with a response_format: either tool calls or a document of the format', async () => {
    const schema = { type: 'object', properties: { done: { type: 'boolean' } }, required: ['done'], additionalProperties: false };
    for (const seed of [1, 2, 3, 4]) {
      const r = await client.chat.completions.create({
        model: 'tiny-chat',
        messages,
        tools: TOOLS,
        parallel_tool_calls: false,
        max_tokens: 100,
        temperature: 1,
        seed,
        response_format: { type: 'json_schema', json_schema: { name: 'done', schema } },
      });
      const choice = r.choices[0]!;
      if (choice.finish_reason === 'tool_calls') {
        const call = choice.message.tool_calls![0]!;
        if (call.type !== 'function') throw new Error('expected a function call');
        expect(ajv.validate(schemaOf(call.function.name), JSON.parse(call.function.arguments))).toBe(true);
      } else {
        expect(choice.finish_reason).toBe('stop');
        expect(ajv.validate(schema, JSON.parse(choice.message.content!))).toBe(true);
      }
    }
  });
});
