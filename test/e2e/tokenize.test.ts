import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { startE2eServer, type E2eServer } from './e2e-server.js';

// vLLM's /tokenize and /detokenize: the ids a prompt or a chat becomes are exactly what a completion is charged.
describe('/tokenize and /detokenize', () => {
  let server: E2eServer;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  beforeAll(async () => {
    server = await startE2eServer();
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
  }, 300_000);
  afterAll(async () => server?.close());

  it('tokenizes a prompt and a chat in vLLM shapes, and detokenizes back', async () => {
    const prompt = await post('/tokenize', { model: 'tiny-chat', prompt: 'The tide pool', return_token_strs: true });
    expect(prompt.status).toBe(200);
    const tokens = prompt.body.tokens as number[];
    expect(prompt.body).toMatchObject({ count: tokens.length, max_model_len: 2048 });
    expect((prompt.body.token_strs as string[]).join('')).toBe('The tide pool');
    expect((await post('/detokenize', { model: 'tiny-chat', tokens })).body).toEqual({ prompt: 'The tide pool' });
    const messages = [{ role: 'user', content: 'hi' }];
    const chat = await post('/tokenize', { model: 'tiny-chat', messages });
    if (server.engine === 'cpu') {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'tiny-chat', messages: messages as never, max_tokens: 1 });
      expect(chat.body.count).toBe(completion.usage?.prompt_tokens);
    }
    expect(chat.body.token_strs).toBeNull();
  });

  it('refuses what it cannot do with a 400 naming the field', async () => {
    expect((await post('/tokenize', { model: 'tiny-chat', prompt: 'x', add_special_tokens: true })).body.error).toMatchObject({ param: 'add_special_tokens' });
    expect((await post('/tokenize', { model: 'tiny-chat' })).body.error).toMatchObject({ param: 'prompt' });
    expect((await post('/detokenize', { model: 'tiny-chat', tokens: [-1] })).body.error).toMatchObject({ param: 'tokens' });
    expect((await post('/tokenize', { model: 'nope', prompt: 'x' })).status).toBe(404);
  });
});
