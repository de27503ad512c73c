import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { listInvocations } from '../../platform/db/repositories/invocation-repository.js';
import type { LocalNodeRuntime } from '../../runtime/node.js';
import { waitFor } from '../helpers/wait-for.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';

// `n` choices through the official OpenAI client against the real CPU engine: the node runs a request's
// choices as one group whose prompt is prefilled once (the engine forks its KV), and each choice is still
// exactly what a request for that choice alone (seed + i) gives: the texts of running them one by one.
if (!ENGINE_BUILT) console.log('openai choices e2e: skipped, the engine binary is not built (node scripts/build-engine.mjs)');

describe.skipIf(!ENGINE_BUILT)('n choices as one group, end to end (real CPU engine)', () => {
  let server: E2eServer;
  let client: OpenAI;
  let node: LocalNodeRuntime;
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    node = server.node as LocalNodeRuntime;
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 300_000);
  afterAll(async () => server?.close());

  const chat = (content: string, n: number, seed: number, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) => ({
    model: 'tiny-chat',
    messages: [{ role: 'user' as const, content }],
    max_tokens: 8,
    temperature: 1,
    seed,
    n,
    ...extra,
  });
  const saved = async () => (await node.engineStats()).prefillTokensSaved;
  const busy = async () => (await node.engineStats()).models.reduce((sum, m) => sum + m.running + m.waiting + m.parked, 0);

  for (const n of [1, 4, 16]) {
    it(`n = ${n}: one prefill, each choice the text of seed + i alone, streamed and not`, { timeout: 120_000 }, async () => {
      const request = chat('the tide comes in', n, 500 + n);
      const before = await saved();
      const whole = await client.chat.completions.create(request);
      expect(whole.choices.map((c) => c.index)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect((await saved()) - before).toBe((n - 1) * whole.usage!.prompt_tokens);
      const alone = await Promise.all(Array.from({ length: n }, (_, i) => client.chat.completions.create({ ...request, n: 1, seed: 500 + n + i })));
      expect(whole.choices.map((c) => [c.message.content, c.finish_reason])).toEqual(
        alone.map((a) => [a.choices[0]!.message.content, a.choices[0]!.finish_reason]),
      );
      expect(whole.usage!.completion_tokens).toBe(alone.reduce((sum, a) => sum + a.usage!.completion_tokens, 0));
      if (n > 1) expect(new Set(alone.map((a) => a.choices[0]!.message.content)).size).toBeGreaterThan(1);
      const stream = await client.chat.completions.create({ ...request, stream: true });
      const texts = Array<string>(n).fill('');
      for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
      expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    });
  }

  it('completions: n per prompt of a batch, each prompt prefilled once', async () => {
    const request = { model: 'tiny-chat', prompt: ['low tide', 'high tide'], n: 3, max_tokens: 6, temperature: 1, seed: 40 };
    const before = await saved();
    const r = await client.completions.create(request);
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const prompts = await Promise.all(['low tide', 'high tide'].map((prompt) => client.completions.create({ ...request, prompt, n: 1, max_tokens: 1 })));
    expect((await saved()) - before).toBe(2 * prompts[0]!.usage!.prompt_tokens + 2 * prompts[1]!.usage!.prompt_tokens);
    const alone = await client.completions.create({ ...request, prompt: 'high tide', n: 1, seed: 42 });
    expect(r.choices[5]!.text).toBe(alone.choices[0]!.text);
  });

  it('records choice 0 under the response id and choice i under <id>-<i>', async () => {
    const r = await client.chat.completions.create(chat('records', 4, 7, { max_tokens: 3 }));
    const ids = [r.id, `${r.id}-1`, `${r.id}-2`, `${r.id}-3`];
    const rows = await waitFor(
      async () => {
        const found = (await listInvocations(server.database.db, { functionName: 'tiny-chat', limit: 100 })).filter((row) => ids.includes(row.id));
        return found.length === 4 ? found : undefined;
      },
      { message: 'a record for each of the four choices' },
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    ids.forEach((id, index) => {
      expect(byId.get(id)!.params).toMatchObject({ endpoint: 'chat.completions', n: 4, index, sampling: { seed: 7 + index, max_tokens: 3 } });
      expect(byId.get(id)!.status).toBe(r.choices[index]!.finish_reason);
    });
  });

  it('a stop string matched in one choice ends that choice alone; the others run on unchanged', async () => {
    const request = chat('stop here', 4, 900, { max_tokens: 24 });
    const free = await client.chat.completions.create(request);
    const texts = free.choices.map((c) => c.message.content ?? '');
    // A character some choices write and others do not: the cut then falls inside some choices only.
    const stop = [...new Set(texts.join(''))].find((ch) => ch.trim() !== '' && texts.some((t) => t.includes(ch)) && texts.some((t) => !t.includes(ch)));
    expect(stop, `a character in some of ${JSON.stringify(texts)} but not all`).toBeDefined();
    const cut = await client.chat.completions.create({ ...request, stop: [stop!] });
    cut.choices.forEach((c, i) => {
      const at = texts[i]!.indexOf(stop!);
      expect([c.message.content, c.finish_reason]).toEqual(at >= 0 ? [texts[i]!.slice(0, at), 'stop'] : [texts[i], free.choices[i]!.finish_reason]);
    });
    await waitFor(async () => (await busy()) === 0, { message: 'the engine to end every choice' });
  });

  it("cancelling a streamed n = 4 request ends every choice, frees the engine's KV and records each as cancelled", { timeout: 60_000 }, async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: controller.signal,
      body: JSON.stringify({ ...chat('a long one', 4, 3, { max_tokens: 1500 }), ignore_eos: true, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = /"id":"(chatcmpl-[0-9a-f]+)"/.exec(first)![1]!;
    await waitFor(async () => (await busy()) === 4, { message: 'the four choices to be generating' });
    controller.abort();
    const stats = await waitFor(
      async () => {
        const now = await node.engineStats();
        return now.memory.kvBlocksUsed === 0 && (await busy()) === 0 ? now : undefined;
      },
      { intervalMs: 50, message: 'the engine to drop every choice and free their KV blocks' },
    );
    expect(stats.memory.kvBlocksUsed).toBe(0);
    const ids = [id, `${id}-1`, `${id}-2`, `${id}-3`];
    const rows = await waitFor(
      async () => {
        await server.plane.recorder.flush();
        const found = (await listInvocations(server.database.db, { functionName: 'tiny-chat', limit: 200 })).filter((row) => ids.includes(row.id));
        return found.length === 4 ? found : undefined;
      },
      { message: 'a record for each cancelled choice' },
    );
    for (const row of rows) {
      expect(row.status).toBe('cancelled');
      expect(row.completionTokens).toBeLessThan(1500);
    }
  });
});
