import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact, NodeEvent } from '../../../protocol/node-runtime.js';
import { samplingWith } from '../../../protocol/sampling.js';
import type { LocalNodeRuntime } from '../../../runtime/node.js';
import { collect, request, skipReason, startFixtureNode, tokensOf, type FixtureNode, type Reference } from './node-engine-fixtures.js';

// A request's n choices as one group on a node with the real engine (CPU backend): one prefill forked to every
// choice, each choice exactly the tokens its seed gives alone, cancels per choice and per request that free
// the engine's KV, n places in the queue, and an engine killed under the group ending every choice.
if (skipReason) console.warn(`skipping node group engine tests: ${skipReason}`);

type Done = Extract<NodeEvent, { type: 'done' }>;

/** Each choice's tokens and its end, from a group's stream. */
function perChoice(events: readonly NodeEvent[], choices: number): { tokens: number[]; done: Done | undefined }[] {
  const out = Array.from({ length: choices }, () => ({ tokens: [] as number[], done: undefined as Done | undefined }));
  for (const event of events) {
    const slot = out[event.choice ?? 0]!;
    if (event.type === 'token') slot.tokens.push(event.token);
    else slot.done = event;
  }
  return out;
}

describe.skipIf(skipReason !== undefined)("a request's choices as one group on a node with the real engine", () => {
  let fixture: FixtureNode;
  let node: LocalNodeRuntime;
  let llama: Artifact;
  let llamaRef: Reference;

  beforeAll(async () => {
    fixture = await startFixtureNode('tp-node-groups-');
    ({ node, llama, llamaRef } = fixture);
  });
  afterAll(async () => fixture?.close());

  const sampled = (maxTokens: number, seed: number) => samplingWith({ max_tokens: maxTokens, temperature: 1, seed });
  const busy = async () => (await node.engineStats()).models.reduce((n, m) => n + m.running + m.waiting + m.parked, 0);

  it('prefills the prompt once and gives each choice the tokens its seed gives alone', async () => {
    const seeds = [11, 12, 13, 14];
    const savedBefore = (await node.engineStats()).prefillTokensSaved;
    const events = await collect(node.generate(request('g1', llama, llamaRef, { sampling: sampled(12, 11), seeds })));
    const choices = perChoice(events, 4);
    expect(events.every((e) => e.choice !== undefined)).toBe(true);
    expect(choices.map((c) => c.done)).toEqual(
      seeds.map((_, choice) => ({ type: 'done', reason: 'length', promptTokens: llamaRef.prompt.length, completionTokens: 12, choice })),
    );
    expect((await node.engineStats()).prefillTokensSaved - savedBefore).toBe(3 * llamaRef.prompt.length);
    const alone = await Promise.all(seeds.map((seed) => collect(node.generate(request(`g1-${seed}`, llama, llamaRef, { sampling: sampled(12, seed) })))));
    expect(choices.map((c) => c.tokens)).toEqual(alone.map(tokensOf));
    expect(new Set(alone.map((a) => tokensOf(a).join())).size).toBeGreaterThan(1);
  });

  it('ends one choice when its own signal aborts, the others run to their end', async () => {
    // As below: on a loaded machine choice 1 can finish before its cancel lands, and such a run is tried again.
    let choices: ReturnType<typeof perChoice> = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cut = new AbortController();
      const choiceSignals = [new AbortController().signal, cut.signal, new AbortController().signal];
      const events: NodeEvent[] = [];
      const r = request(`g2-${attempt}`, llama, llamaRef, { sampling: { ...sampled(240, 5), ignore_eos: true }, seeds: [5, 6, 7] });
      for await (const event of node.generate(r, undefined, choiceSignals)) {
        events.push(event);
        if (event.type === 'token' && event.choice === 1) cut.abort();
      }
      choices = perChoice(events, 3);
      if (choices[1]!.done?.reason === 'cancelled') break;
      console.log(`attempt ${attempt}: choice 1 finished before its cancel landed; trying again`);
    }
    expect(choices.map((c) => c.done?.reason)).toEqual(['length', 'cancelled', 'length']);
    expect(choices[1]!.tokens.length).toBeLessThan(240);
    expect([choices[0]!.tokens.length, choices[2]!.tokens.length]).toEqual([240, 240]);
    expect(await busy()).toBe(0);
    expect((await node.engineStats()).memory.kvBlocksUsed).toBe(0);
  });

  it('cancels every choice when the request is aborted, and frees their KV', async () => {
    // The engine is its own process: on a loaded machine the group can finish before this process gets to
    // the abort. Such a run says nothing about cancelling, so it is tried again.
    let choices: ReturnType<typeof perChoice> = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const controller = new AbortController();
      const events: NodeEvent[] = [];
      const r = request(`g3-${attempt}`, llama, llamaRef, { sampling: sampled(240, 21), seeds: [21, 22, 23, 24] });
      for await (const event of node.generate(r, controller.signal)) {
        events.push(event);
        if (events.length === 4) controller.abort();
      }
      choices = perChoice(events, 4);
      if (choices.some((c) => c.done?.reason === 'cancelled')) break;
      console.log(`attempt ${attempt}: the group finished before the abort landed; trying again`);
    }
    expect(choices.map((c) => c.done?.reason)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(await busy()).toBe(0);
    expect((await node.engineStats()).memory.kvBlocksUsed).toBe(0);
    const residency = await node.residency();
    for (const m of residency.filter((m) => m.functionName.startsWith('fn-g3'))) expect(m).toMatchObject({ queued: 0, running: 0 });
  });

  it('takes n places in the queue: a group larger than the queue is refused whole', async () => {
    const seeds = Array.from({ length: 9 }, (_, i) => 30 + i);
    await expect(collect(node.generate(request('g4', llama, llamaRef, { sampling: sampled(2, 30), seeds })))).rejects.toMatchObject({
      code: 'queue_full',
      message: expect.stringMatching(/a request with 9 choices needs 9/),
    });
  });

  it('ends every choice with engine_down when the engine dies under the group, then serves again', async () => {
    let choices: ReturnType<typeof perChoice> = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const events: NodeEvent[] = [];
      const r = request(`g5-${attempt}`, llama, llamaRef, { sampling: sampled(240, 1), seeds: [1, 2, 3, 4] });
      for await (const event of node.generate(r)) {
        events.push(event);
        if (events.length === 4) process.kill(node.enginePid()!, 'SIGKILL');
      }
      choices = perChoice(events, 4);
      if (choices.some((c) => c.done?.reason === 'error')) break;
      console.log(`attempt ${attempt}: the group finished before the kill landed; trying again`);
    }
    for (const c of choices) expect(c.done).toMatchObject({ reason: 'error', error: { code: 'engine_down' } });
    const next = await collect(node.generate(request('g6', llama, llamaRef, { sampling: sampled(4, 9), seeds: [9, 10] })));
    expect(perChoice(next, 2).map((c) => c.done?.reason)).toEqual(['length', 'length']);
  });
});
