import { describe, expect, it } from 'vitest';
import { instantNode } from '../../bench/api/instant-node.js';
import { judge, spread, summarize, type Row, type Target } from '../../bench/api/report.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { realDigest } from '../../helpers/weights-digest.js';

function row(target: Target, stream: boolean, repeat: number, requestsPerSec: number, addedP99Ms: number | null): Row {
  return {
    target,
    stream,
    concurrency: 64,
    repeat,
    requests: requestsPerSec * 10,
    errors: 0,
    requestsPerSec,
    tokensPerSec: null,
    latencyP50Ms: 1,
    latencyP99Ms: addedP99Ms ?? 2,
    engineP50Ms: null,
    engineP99Ms: null,
    addedP50Ms: addedP99Ms,
    addedP99Ms,
  };
}

describe('api bench report', () => {
  it('gives min, median and max', () => {
    expect(spread([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ min: 1, median: 2.5, max: 4 });
  });

  it('judges throughput on the instant node against the bare handler of the same repeat, and added p99 on every Tidepool row', () => {
    const rows = [
      row('bare express', false, 0, 1000, null),
      row('bare express', false, 1, 2000, null),
      row('bare express', false, 2, 1000, null),
      // Shares 0.6, 0.3 (slow repeat of the anchor), 0.55: median 0.55, met.
      row('tidepool (instant node)', false, 0, 600, 4),
      row('tidepool (instant node)', false, 1, 600, 9),
      row('tidepool (instant node)', false, 2, 550, 5),
      // Shares 0.4, 0.2, 0.45: median 0.4, missed.
      row('tidepool (instant node)', true, 0, 400, 6),
      row('tidepool (instant node)', true, 1, 400, 6),
      row('tidepool (instant node)', true, 2, 450, 6),
      // Engine-bound: its share is shown, not judged.
      row('tidepool', false, 0, 10, 3),
      row('tidepool', false, 1, 10, 3),
      row('tidepool', false, 2, 10, 30),
    ];
    const summaries = summarize(rows);
    expect(summaries.find((s) => s.target === 'tidepool (instant node)' && !s.stream)?.shareOfBare).toEqual({ min: 0.3, median: 0.55, max: 0.6 });
    const verdicts = judge(summaries).map((v) => `${v.met ? 'met' : 'missed'} ${v.bar.split(' ')[0]} ${v.target} ${v.stream}`);
    expect(verdicts.sort()).toEqual([
      'met p99 tidepool (instant node) false',
      'met p99 tidepool false',
      'met requests/s tidepool (instant node) false',
      'missed p99 tidepool (instant node) true',
      'missed requests/s tidepool (instant node) true',
    ]);
  });
});

describe('instant node', () => {
  const request = {
    id: 'r',
    functionName: 'f',
    version: 1,
    artifact: { weightsDigest: realDigest('x'), files: [], bytes: 0 },
    promptTokens: [1, 2, 3],
    sampling: samplingWith({ max_tokens: 5 }),
    stopTokenIds: [],
    slo: { ttftMs: 1000, tpotMs: 100 },
    keepWarmMs: 0,
  };

  it('answers the requested tokens at once, cycling through its ids, then done', async () => {
    const events = [];
    for await (const event of instantNode([7, 8]).generate(request)) events.push(event);
    expect(events).toEqual([
      ...[7, 8, 7, 8, 7].map((token) => ({ type: 'token', token })),
      { type: 'done', reason: 'length', promptTokens: 3, completionTokens: 5 },
    ]);
  });

  it('ends cancelled once its signal is aborted', async () => {
    const controller = new AbortController();
    const events = [];
    for await (const event of instantNode([7]).generate(request, controller.signal)) {
      events.push(event);
      if (events.length === 2) controller.abort();
    }
    expect(events.at(-1)).toEqual({ type: 'done', reason: 'cancelled', promptTokens: 3, completionTokens: 2 });
  });
});
