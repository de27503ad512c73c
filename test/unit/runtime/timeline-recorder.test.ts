import { describe, expect, it } from 'vitest';
import { createGpuScheduler } from '../../../runtime/scheduler/gpu-scheduler.js';
import { SpanRing } from '../../../runtime/timeline/span-ring.js';
import { createTimelineRecorder } from '../../../runtime/timeline/timeline-recorder.js';
import type { TimelineSpan } from '../../../protocol/timeline-types.js';
import { fakeEngine, model, recorder, request } from '../scheduler/fake-engine.js';
import { digest } from '../../helpers/weights-digest.js';

const EPOCH = 1_700_000_000_000;

function timelineOnVirtualClock(clockNow: () => number) {
  return createTimelineRecorder({
    nodeId: 'n1',
    gpus: [{ index: 0, label: 'cpu engine 0' }],
    functionOf: (key) => `fn-${key}`,
    bytesOf: () => 1e9,
    toEpochMs: (ms) => EPOCH + ms,
    now: () => EPOCH + clockNow(),
  });
}

describe('span ring', () => {
  it('keeps the newest entries at capacity and reads those after a time, oldest first', () => {
    const ring = new SpanRing<{ endMs: number }>(3);
    for (const endMs of [1, 2, 3, 4, 5]) ring.push({ endMs });
    expect(ring.length).toBe(3);
    expect(ring.since(0).map((e) => e.endMs)).toEqual([3, 4, 5]);
    expect(ring.since(3).map((e) => e.endMs)).toEqual([4, 5]);
    ring.dropBefore(4);
    expect(ring.since(0).map((e) => e.endMs)).toEqual([5]);
    expect(() => new SpanRing(0)).toThrow(/positive integer/);
  });
});

describe('timeline recorder', () => {
  it('records runs of two models, the switches between them, loads, and KV parks from the real scheduler', async () => {
    const { clock, engine } = fakeEngine({ arenaGb: 1 });
    const timeline = timelineOnVirtualClock(() => clock.now());
    const s = createGpuScheduler({ engine, clock, onEvent: (e) => timeline.record(0, e) });
    const submit = (key: string) => {
      const r = recorder(clock);
      const sink = {
        onToken: (t: number) => {
          timeline.countToken(digest(key));
          r.sink.onToken(t);
        },
        onDone: r.sink.onDone,
      };
      s.submit(request(model(key), 200, { ttftMs: 300, tpotMs: 30 }), sink);
    };
    // b arrives while a decodes; only one model fits the 1 GB arena, so serving b means a switch and back.
    submit('a');
    void clock.sleep(300).then(() => submit('b'));
    await clock.run();
    await s.close();
    const read = timeline.read();
    const spans = read.spans;
    expect(read.gpus).toEqual([{ index: 0, label: 'cpu engine 0' }]);
    const runs = spans.filter((x): x is Extract<TimelineSpan, { kind: 'run' }> => x.kind === 'run');
    expect(new Set(runs.map((r) => r.function))).toEqual(new Set(['fn-a', 'fn-b']));
    // Every token produced is attributed to some turn: 2 requests × 200 tokens.
    expect(runs.reduce((sum, r) => sum + r.tokens, 0)).toBe(400);
    const switches = spans.filter((x) => x.kind === 'switch');
    expect(switches.some((x) => x.kind === 'switch' && x.from === 'fn-a' && x.function === 'fn-b')).toBe(true);
    expect(switches.some((x) => x.kind === 'switch' && x.from === 'fn-b' && x.function === 'fn-a')).toBe(true);
    // Switching in a full arena loads weights, evicts the other model and parks its KV.
    expect(spans.some((x) => x.kind === 'load' && x.bytes === 1e9 && x.endMs - x.startMs > 0)).toBe(true);
    expect(spans.some((x) => x.kind === 'park')).toBe(true);
    expect(spans.some((x) => x.kind === 'restore')).toBe(true);
    expect(spans.some((x) => x.kind === 'evict')).toBe(true);
    // Entries are numbered without gaps and ordered by end time.
    expect(spans.map((x) => x.seq)).toEqual(spans.map((_, i) => i + 1));
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.endMs).toBeGreaterThanOrEqual(spans[i - 1]!.endMs);
    for (const r of runs) expect(r.endMs).toBeGreaterThan(r.startMs);
  });

  it('returns only entries that ended after `since`, and forgets those older than its window', () => {
    let nowMs = EPOCH;
    const timeline = createTimelineRecorder({
      nodeId: 'n1',
      gpus: [],
      functionOf: (key) => key,
      toEpochMs: (ms) => EPOCH + ms,
      now: () => nowMs,
      windowMs: 1_000,
    });
    timeline.record(0, { type: 'switch', atMs: 10, from: undefined, to: digest('a'), ms: 0, estimateMs: 0, overrun: false });
    timeline.record(0, { type: 'turn', atMs: 50, weightsDigest: digest('a'), steps: 4, quotaSteps: 8, reason: 'done', ms: 40 });
    timeline.record(0, { type: 'turn', atMs: 60, weightsDigest: digest('a'), steps: 0, quotaSteps: 8, reason: 'not_resident', ms: 0 });
    timeline.record(0, { type: 'load', atMs: 70, weightsDigest: digest('b'), ms: 0, cached: true, prefetch: true });
    nowMs = EPOCH + 100;
    expect(timeline.read().spans.map((x) => x.kind)).toEqual(['switch', 'run']);
    expect(timeline.read(EPOCH + 10).spans.map((x) => x.kind)).toEqual(['run']);
    expect(timeline.read().spans[1]).toMatchObject({ startMs: EPOCH + 10, endMs: EPOCH + 50, steps: 4, tokens: 0 });
    nowMs = EPOCH + 1_020;
    expect(timeline.read().spans.map((x) => x.kind)).toEqual(['run']);
    nowMs = EPOCH + 2_000;
    expect(timeline.read().spans).toEqual([]);
  });
});
