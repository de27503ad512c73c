import { describe, expect, it } from 'vitest';
import { TidepoolError } from '../../../protocol/errors.js';
import type { NodeEvent } from '../../../protocol/node-runtime.js';
import { ChoiceDemux } from '../../../platform/functions/choice-demux.js';

const token = (choice: number, t: number): NodeEvent => ({ type: 'token', token: t, choice });
const done = (choice: number, completionTokens: number): NodeEvent => ({ type: 'done', reason: 'length', promptTokens: 3, completionTokens, choice });

/** A node stream from a script: events, then a failure or the end; `ended` resolves when it is ended or runs out. */
function stream(events: readonly NodeEvent[], failure?: Error) {
  let returned = false;
  let onEnd!: () => void;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  async function* run(): AsyncGenerator<NodeEvent> {
    try {
      for (const event of events) yield event;
      if (failure) throw failure;
    } finally {
      returned = true;
      onEnd();
    }
  }
  return { source: run(), returned: () => returned, ended };
}

async function readAll(iterator: AsyncIterator<NodeEvent>): Promise<NodeEvent[]> {
  const out: NodeEvent[] = [];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) out.push(next.value);
  return out;
}

describe('the choices of one node stream, one iterator each', () => {
  it('gives each choice its own events in order, read concurrently or one after another', async () => {
    const events = [token(0, 1), token(1, 2), token(1, 3), token(0, 4), done(1, 2), token(2, 5), done(0, 2), done(2, 1)];
    const together = new ChoiceDemux(stream(events).source, 3);
    await together.first();
    const all = await Promise.all([0, 1, 2].map((i) => readAll(together.choice(i))));
    expect(all).toEqual([
      [token(0, 1), token(0, 4), done(0, 2)],
      [token(1, 2), token(1, 3), done(1, 2)],
      [token(2, 5), done(2, 1)],
    ]);
    const inTurn = new ChoiceDemux(stream(events).source, 3);
    expect(await readAll(inTurn.choice(2))).toEqual(all[2]);
    expect(await readAll(inTurn.choice(0))).toEqual(all[0]);
    expect(await readAll(inTurn.choice(1))).toEqual(all[1]);
  });

  it('a single choice passes the stream through untagged', async () => {
    const plain: NodeEvent[] = [
      { type: 'token', token: 9 },
      { type: 'done', reason: 'stop', promptTokens: 1, completionTokens: 1 },
    ];
    const demux = new ChoiceDemux(stream(plain).source, 1);
    expect(await readAll(demux.choice(0))).toEqual(plain);
  });

  it('a refusal before the first event rejects first()', async () => {
    const refusal = new TidepoolError('queue_full', 'full');
    await expect(new ChoiceDemux(stream([], refusal).source, 2).first()).rejects.toBe(refusal);
  });

  it('strands no choice: a failure reaches every choice not yet ended, a stream that just stops ends them with engine_down', async () => {
    const lost = new Error('node lost');
    const failing = new ChoiceDemux(stream([token(0, 1), done(0, 1), token(1, 2)], lost).source, 3);
    const outcomes = await Promise.allSettled([0, 1, 2].map((i) => readAll(failing.choice(i))));
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: [token(0, 1), done(0, 1)] });
    expect(outcomes[1]).toEqual({ status: 'rejected', reason: lost });
    expect(outcomes[2]).toEqual({ status: 'rejected', reason: lost });
    const stopping = new ChoiceDemux(stream([token(0, 1), done(0, 1)]).source, 2);
    expect(await readAll(stopping.choice(0))).toEqual([token(0, 1), done(0, 1)]);
    await expect(readAll(stopping.choice(1))).rejects.toMatchObject({ code: 'engine_down', message: expect.stringMatching(/choice 1/) });
  });

  it('ends the stream once every choice has returned, not before', async () => {
    const s = stream([token(0, 1), token(1, 2), done(0, 1), done(1, 1), token(0, 9)]);
    const demux = new ChoiceDemux(s.source, 2);
    const zero = demux.choice(0);
    await zero.next();
    await zero.return!();
    expect(s.returned()).toBe(false);
    expect(await readAll(demux.choice(1))).toEqual([token(1, 2), done(1, 1)]);
    expect(s.returned()).toBe(false);
    await demux.choice(1).return!();
    await s.ended;
    expect(s.returned()).toBe(true);
  });

  it('drops an event for a choice it does not have and a second end of a choice', async () => {
    const demux = new ChoiceDemux(stream([token(5, 1), token(0, 1), done(0, 1), done(0, 1), token(0, 2), done(1, 0)]).source, 2);
    const [zero, one] = await Promise.all([readAll(demux.choice(0)), readAll(demux.choice(1))]);
    expect(zero).toEqual([token(0, 1), done(0, 1)]);
    expect(one).toEqual([done(1, 0)]);
  });
});
