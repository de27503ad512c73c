import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { startE2eServer, type E2eServer } from './e2e-server.js';

// The official OpenAI client against a real listening server: what users' code will do.
describe('OpenAI client end to end', () => {
  let server: E2eServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startE2eServer();
    console.log(`openai e2e: node is ${server.engine === 'cpu' ? 'the real CPU engine' : 'scripted (engine binary not built)'}`);
    const fn = await prepareFunctionDir('functions/tiny-qwen', server.dataDir);
    await deployFunction(createApiClient({ baseUrl: server.url }), fn, { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => server?.close());

  it('lists functions as models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('tiny-qwen');
  });

  it('completes a chat without streaming', async () => {
    const r = await client.chat.completions.create({ model: 'tiny-qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, seed: 7 });
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 6 });
    expect(typeof r.choices[0]!.message.content).toBe('string');
  });

  it('streams a chat with a usage chunk, the same greedy text as without streaming', async () => {
    const request = { model: 'tiny-qwen', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 5, temperature: 0 };
    const plain = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(finish).toBe('length');
    expect(usage).toEqual(plain.usage);
    expect(usage?.completion_tokens).toBe(5);
    expect(text).toBe(plain.choices[0]!.message.content);
    expect(text.length).toBeGreaterThan(0);
  });

  it('streams and non-streams the same greedy text for a completion', async () => {
    const plain = await client.completions.create({ model: 'tiny-qwen', prompt: 'abc', max_tokens: 8, temperature: 0 });
    const stream = await client.completions.create({ model: 'tiny-qwen', prompt: 'abc', max_tokens: 8, temperature: 0, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(plain.choices[0]!.text);
  });

  it('raises NotFoundError for an unknown function and BadRequestError past the context', async () => {
    await expect(client.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.completions.create({ model: 'tiny-qwen', prompt: 'x'.repeat(250), max_tokens: 10 })).rejects.toThrow(/exceeds the context length 256/);
  });
});
