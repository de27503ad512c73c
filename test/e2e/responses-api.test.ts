import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';

// /v1/responses with the official openai client and with the Vercel AI SDK's default provider
// (`openai('model')` calls the Responses API), on the random-weight tiny-chat model and the real CPU engine.
if (!ENGINE_BUILT) console.log('responses e2e: skipped, the engine binary is not built (node scripts/build-engine.mjs)');

const ajv = new Ajv2020({ strict: false });
const ADD = {
  type: 'function' as const,
  name: 'add',
  strict: false,
  parameters: {
    type: 'object',
    properties: { a: { type: 'integer', minimum: 0, maximum: 9 }, b: { type: 'integer', minimum: 0, maximum: 9 } },
    required: ['a', 'b'],
  },
};

describe.skipIf(!ENGINE_BUILT)('Responses API end to end (real CPU engine)', () => {
  let server: E2eServer;
  let client: OpenAI;
  let provider: ReturnType<typeof createOpenAI>;
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    provider = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
  }, 300_000);
  afterAll(async () => server?.close());

  it('answers text input with instructions; max_output_tokens makes it incomplete; streams the same text as events', async () => {
    const request = { model: 'tiny-chat', input: 'Hello', instructions: 'Be brief.', max_output_tokens: 6, temperature: 0 };
    const whole = await client.responses.create(request);
    expect(whole).toMatchObject({ object: 'response', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 6 } });
    expect(whole.output[0]).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text' }] });
    expect(whole.output_text.length).toBeGreaterThan(0);
    const stream = await client.responses.create({ ...request, stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(text).toBe(whole.output_text);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
  });

  it('text.format json_schema through responses.parse; function tools forced, streamed as argument deltas; message and tool-result input', async () => {
    const Shape = z.object({ ok: z.boolean(), n: z.int().min(0).max(5) });
    const parsed = await client.responses.parse({
      model: 'tiny-chat',
      input: 'json please',
      max_output_tokens: 60,
      temperature: 1,
      text: { format: zodTextFormat(Shape, 'shape') },
    });
    expect(Shape.parse(parsed.output_parsed)).toEqual(parsed.output_parsed);
    const forced = await client.responses.create({
      model: 'tiny-chat',
      input: 'add',
      tools: [ADD],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_output_tokens: 60,
      temperature: 0,
    });
    const call = forced.output.find((item) => item.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function_call item');
    expect(ajv.validate(ADD.parameters, JSON.parse(call.arguments))).toBe(true);
    const stream = await client.responses.create({
      model: 'tiny-chat',
      input: 'add',
      tools: [ADD],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_output_tokens: 60,
      temperature: 0,
      stream: true,
    });
    let args = '';
    for await (const event of stream) if (event.type === 'response.function_call_arguments.delta') args += event.delta;
    expect(args).toBe(call.arguments);
    const next = await client.responses.create({
      model: 'tiny-chat',
      max_output_tokens: 4,
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'add 1 and 2' }] },
        { type: 'function_call', call_id: call.call_id, name: 'add', arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '3' },
      ],
    });
    expect(next.status).toMatch(/^(completed|incomplete)$/);
    const referenced = await client.responses.create({
      model: 'tiny-chat',
      max_output_tokens: 4,
      input: [
        { role: 'user', content: 'add 1 and 2' },
        { type: 'item_reference', id: call.id! },
        { type: 'function_call_output', call_id: call.call_id, output: '3' },
      ],
    });
    expect(referenced.status).toMatch(/^(completed|incomplete)$/);
    await expect(client.responses.create({ model: 'tiny-chat', input: [{ type: 'item_reference', id: 'fc_unknown' }] })).rejects.toMatchObject({
      status: 400,
      param: 'input[0].id',
    });
    await expect(client.responses.create({ model: 'tiny-chat', input: 'x', previous_response_id: forced.id })).rejects.toMatchObject({
      status: 400,
      param: 'previous_response_id',
    });
    await expect(client.responses.create({ model: 'tiny-chat', input: 'x', tools: [{ type: 'web_search' }] })).rejects.toMatchObject({
      status: 400,
      param: 'tools[0].type',
    });
  });

  it('the Vercel AI SDK default provider: generateText, streamText, generateObject and a two-step tool loop', async () => {
    const model = provider('tiny-chat');
    const text = await generateText({ model, prompt: 'Hello', maxOutputTokens: 5, temperature: 0 });
    expect(text.finishReason).toBe('length');
    expect(text.usage.outputTokens).toBe(5);
    const streamed = streamText({ model, prompt: 'Hello', maxOutputTokens: 5, temperature: 0 });
    expect(await streamed.text).toBe(text.text);
    const schema = z.object({ city: z.enum(['Paris', 'Lima']), days: z.number().int().min(1).max(7) });
    const object = await generateObject({ model, schema, prompt: 'Plan a trip', temperature: 1 });
    expect(schema.parse(object.object)).toEqual(object.object);
    const looped = await generateText({
      model,
      prompt: 'Add two numbers',
      toolChoice: 'required',
      stopWhen: stepCountIs(2),
      temperature: 0,
      maxOutputTokens: 100,
      providerOptions: { openai: { parallelToolCalls: false } },
      tools: {
        add: tool({ description: 'Adds', inputSchema: jsonSchema<{ a: number; b: number }>(ADD.parameters as never), execute: async ({ a, b }) => a + b }),
      },
    });
    // Step 2 sends step 1's call back with its result.
    expect(looped.steps).toHaveLength(2);
    expect(looped.steps[0]!.finishReason).toBe('tool-calls');
    expect(looped.steps[0]!.toolResults[0]).toMatchObject({ toolName: 'add' });
    expect(JSON.stringify(looped.steps[1]!.request.body)).toContain('function_call_output');
  });
});
