import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { listInvocations } from '../../platform/db/repositories/invocation-repository.js';
import { buildTinyTokenizer } from '../../platform/models/tiny-tokenizer.js';
import { waitFor } from '../helpers/wait-for.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';

// The sampling parameters, logprobs, n and batched prompts through the official OpenAI client, against the
// real CPU engine: each parameter is checked by what it does to the output, not only by a 200.
if (!ENGINE_BUILT) console.log('openai sampling e2e: skipped, the engine binary is not built (node scripts/build-engine.mjs)');

describe.skipIf(!ENGINE_BUILT)('OpenAI sampling parameters end to end (real CPU engine)', () => {
  let server: E2eServer;
  let client: OpenAI;
  const eos = buildTinyTokenizer().eosTokenId;
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    const api = createApiClient({ baseUrl: server.url });
    for (const name of ['tiny-qwen', 'tiny-chat'])
      await deployFunction(api, await prepareFunctionDir(`functions/${name}`, server.dataDir), { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 300_000);
  afterAll(async () => server?.close());

  it('logit_bias forces a token; stop_token_ids ends on it and keeps it out of the text unless asked', async () => {
    // tiny-qwen is byte-level: id 97 is "a". A +100 bias outweighs any logit of the random model.
    const forced = await client.completions.create({ model: 'tiny-qwen', prompt: 'xyz', max_tokens: 5, temperature: 1, seed: 3, logit_bias: { 97: 100 } });
    expect(forced.choices[0]!.text).toBe('aaaaa');
    const stopped = await client.completions.create({
      model: 'tiny-qwen',
      prompt: 'xyz',
      max_tokens: 5,
      logit_bias: { 97: 100 },
      stop_token_ids: [97],
    } as never);
    expect(stopped.choices[0]).toMatchObject({ text: '', finish_reason: 'stop' });
    expect(stopped.usage?.completion_tokens).toBe(1);
    const kept = await client.completions.create({
      model: 'tiny-qwen',
      prompt: 'xyz',
      max_tokens: 5,
      logit_bias: { 97: 100 },
      stop_token_ids: [97],
      include_stop_str_in_output: true,
    } as never);
    expect(kept.choices[0]!.text).toBe('a');
  });

  it('min_tokens holds the end back; ignore_eos runs to max_tokens; stop strings wait for min_tokens', async () => {
    const messages = [{ role: 'user' as const, content: 'hello' }];
    const ends = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 20, logit_bias: { [eos]: 100 } });
    expect(ends.choices[0]!.finish_reason).toBe('stop');
    expect(ends.usage?.completion_tokens).toBe(1);
    const held = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 20, logit_bias: { [eos]: 100 }, min_tokens: 6 } as never);
    expect(held.choices[0]!.finish_reason).toBe('stop');
    expect(held.usage?.completion_tokens).toBe(7);
    const ignored = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 9,
      logit_bias: { [eos]: 100 },
      ignore_eos: true,
    } as never);
    expect(ignored.choices[0]!.finish_reason).toBe('length');
    expect(ignored.usage?.completion_tokens).toBe(9);
    const free = await client.completions.create({
      model: 'tiny-qwen',
      prompt: 'xyz',
      max_tokens: 6,
      logit_bias: { 97: 100 },
      stop: ['a'],
      min_tokens: 3,
    } as never);
    expect(free.choices[0]).toMatchObject({ text: 'aa', finish_reason: 'stop' });
  });

  it('penalties, top_k, min_p and repetition_penalty reach the engine: a repeated token is pushed away', async () => {
    const base = { model: 'tiny-qwen', prompt: 'xyz', max_tokens: 8, temperature: 0 } as const;
    const biased = { ...base, logit_bias: { 97: 6 } };
    const plain = await client.completions.create(biased);
    const penalised = await client.completions.create({ ...biased, frequency_penalty: 2, presence_penalty: 2, repetition_penalty: 3 } as never);
    const count = (text: string) => [...text].filter((c) => c === 'a').length;
    expect(count(penalised.choices[0]!.text)).toBeLessThan(count(plain.choices[0]!.text));
    const topK = await client.completions.create({ ...base, temperature: 2, seed: 9, top_k: 1 } as never);
    const greedy = await client.completions.create(base);
    expect(topK.choices[0]!.text).toBe(greedy.choices[0]!.text);
    const minP = await client.completions.create({ ...base, temperature: 2, seed: 9, min_p: 1 } as never);
    expect(minP.choices[0]!.text).toBe(greedy.choices[0]!.text);
  });

  it('chat logprobs: one entry per token with its bytes, greedy picks the top alternative, streamed the same', async () => {
    const request = {
      model: 'tiny-chat',
      messages: [{ role: 'user' as const, content: 'tide' }],
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    };
    const whole = await client.chat.completions.create(request);
    const content = whole.choices[0]!.logprobs!.content!;
    expect(content.length).toBeGreaterThan(0);
    expect(Buffer.from(content.flatMap((t) => t.bytes!)).toString('utf8')).toBe(whole.choices[0]!.message.content);
    for (const token of content) {
      expect(token.top_logprobs).toHaveLength(3);
      expect(token.top_logprobs[0]!.logprob).toBeCloseTo(token.logprob, 5);
      expect(token.top_logprobs[0]!.token).toBe(token.token);
      expect(token.logprob).toBeLessThanOrEqual(0);
      expect(token.top_logprobs.reduce((p, t) => p + Math.exp(t.logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed).toEqual(content);
  });

  it('completions logprobs: tokens, token_logprobs, top_logprobs and text_offset line up with the text', async () => {
    const r = await client.completions.create({ model: 'tiny-chat', prompt: 'The tide', max_tokens: 6, temperature: 0, logprobs: 2 });
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens!.join('')).toBe(r.choices[0]!.text);
    expect(lp.token_logprobs).toHaveLength(lp.tokens!.length);
    expect(lp.top_logprobs!.every((top) => Object.keys(top).length >= 1 && Object.keys(top).length <= 2)).toBe(true);
    expect(lp.text_offset![0]).toBe(0);
    lp.tokens!.forEach((token, i) => {
      expect(r.choices[0]!.text.slice(lp.text_offset![i], lp.text_offset![i]! + token.length)).toBe(token);
    });
  });

  it('n choices are indexed, sampled independently per seed and reproducible; n: null is the default', async () => {
    const request = { model: 'tiny-chat', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 8, temperature: 1, seed: 11, n: 4 };
    const first = await client.chat.completions.create(request);
    expect(first.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(new Set(first.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    expect(first.usage?.completion_tokens).toBe(first.choices.length * 8);
    const again = await client.chat.completions.create(request);
    expect(again.choices.map((c) => c.message.content)).toEqual(first.choices.map((c) => c.message.content));
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const texts = ['', '', '', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    expect(texts).toEqual(first.choices.map((c) => c.message.content));
    const single = await client.chat.completions.create({ ...request, n: null });
    expect(single.choices).toHaveLength(1);
  });

  it('batched prompts (texts and token ids) with n and echo, streamed and not', async () => {
    const r = await client.completions.create({ model: 'tiny-qwen', prompt: ['ab', 'cd'], n: 2, max_tokens: 3, temperature: 0, echo: true });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(r.choices.map((c) => c.text.slice(0, 2))).toEqual(['ab', 'ab', 'cd', 'cd']);
    expect(r.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 12 });
    const ids = await client.completions.create({
      model: 'tiny-qwen',
      prompt: [
        [97, 98],
        [99, 100],
      ],
      max_tokens: 3,
      temperature: 0,
    });
    expect(ids.choices.map((c) => c.text)).toEqual([r.choices[0]!.text.slice(2), r.choices[2]!.text.slice(2)]);
    const stream = await client.completions.create({ model: 'tiny-qwen', prompt: ['ab', 'cd'], max_tokens: 3, temperature: 0, echo: true, stream: true });
    const texts = ['', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
    expect(texts).toEqual([r.choices[0]!.text, r.choices[2]!.text]);
  });

  it('best_of returns the candidates with the highest logprob per token, of the same seeds n would sample', async () => {
    const request = { model: 'tiny-chat', prompt: 'The tide', max_tokens: 6, temperature: 1, seed: 21 };
    const all = await client.completions.create({ ...request, n: 4, logprobs: 0 });
    const mean = (c: (typeof all.choices)[number]) => c.logprobs!.token_logprobs!.reduce((a, b) => a + b, 0) / c.logprobs!.token_logprobs!.length;
    const ranked = [...all.choices].sort((a, b) => mean(b) - mean(a) || a.index - b.index);
    const best = await client.completions.create({ ...request, n: 2, best_of: 4 });
    expect(best.choices.map((c) => c.text)).toEqual(ranked.slice(0, 2).map((c) => c.text));
    expect(best.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(best.choices[0]!.logprobs).toBeNull();
    expect(best.usage?.completion_tokens).toBe(all.usage?.completion_tokens);
  });

  it('refuses bad values with a 400 naming the field, and keeps serving', async () => {
    const chat = (extra: Record<string, unknown>) =>
      client.chat.completions.create({ model: 'tiny-qwen', messages: [{ role: 'user', content: 'x' }], max_tokens: 2, ...extra } as never);
    for (const [extra, param] of [
      [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
      [{ logit_bias: { 320: 1 } }, 'logit_bias'],
      [{ presence_penalty: 3 }, 'presence_penalty'],
      [{ n: 17 }, 'n'],
      [{ min_tokens: 5 }, 'min_tokens'],
      [{ stop_token_ids: [999] }, 'stop_token_ids'],
      [{ top_k: 1.5 }, 'top_k'],
      [{ use_beam_search: true }, 'use_beam_search'],
    ] as const) {
      await expect(chat(extra)).rejects.toMatchObject({ status: 400, param });
    }
    await expect(client.completions.create({ model: 'tiny-qwen', prompt: 'x', suffix: 'y' })).rejects.toMatchObject({ status: 400, param: 'suffix' });
    await expect(client.completions.create({ model: 'tiny-qwen', prompt: 'x', n: 2, best_of: 1 })).rejects.toMatchObject({ status: 400, param: 'best_of' });
    await expect(client.completions.create({ model: 'tiny-qwen', prompt: 'x', best_of: 2, stream: true })).rejects.toMatchObject({
      status: 400,
      param: 'best_of',
    });
    const ok = await chat({ user: 'u1', metadata: { a: 'b' }, store: false, service_tier: 'auto' });
    expect(ok.choices).toHaveLength(1);
  });

  it('the native invoke API takes the same sampling record and returns logprobs when asked', async () => {
    const res = await fetch(`${server.url}/v1/functions/tiny-chat/invoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'The tide', max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2, top_k: 5 }),
    });
    const body = (await res.json()) as { text: string; logprobs: { token: string; top_logprobs: unknown[] }[] };
    expect(body.logprobs.map((t) => t.token).join('')).toBe(body.text);
    expect(body.logprobs.every((t) => t.top_logprobs.length === 2)).toBe(true);
  });

  it('records the parameters each invocation ran with', async () => {
    await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'rec' }],
      max_tokens: 2,
      top_k: 7,
      logprobs: true,
      n: 2,
    } as never);
    const rows = await waitFor(
      async () => {
        const found = (await listInvocations(server.database.db, { functionName: 'tiny-chat', limit: 20 })).filter(
          (r) => (r.params?.sampling as { top_k?: number } | undefined)?.top_k === 7,
        );
        return found.length === 2 ? found : undefined;
      },
      { message: 'two records with top_k 7' },
    );
    expect(rows.map((r) => r.params?.index).sort()).toEqual([0, 1]);
    expect(rows[0]!.params).toMatchObject({
      endpoint: 'chat.completions',
      n: 2,
      response_format: 'text',
      sampling: { top_k: 7, logprobs: true, max_tokens: 2, grammar: null },
    });
  });
});
