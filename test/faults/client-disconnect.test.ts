import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { complete, recordedStatuses, startFaultPlane, total, type FaultPlane } from './fault-plane.js';
import { waitFor } from '../helpers/wait-for.js';

if (!ENGINE_BUILT) console.log(`skip: client disconnect fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// Clients that go away mid-stream (and one that gives up on a non-streaming answer): each sequence is
// cancelled in the engine, its KV blocks are freed, each invocation is recorded as cancelled, and the node
// serves the next request.
describe.skipIf(!ENGINE_BUILT)('fault: a client disconnects mid-stream', () => {
  let fault: FaultPlane;
  beforeAll(async () => {
    fault = await startFaultPlane();
  });
  afterAll(async () => fault?.close());

  it('cancels each sequence, frees its KV and records it', { timeout: 60_000 }, async () => {
    expect((await complete(fault.url, {})).status).toBe(200);
    // ignore_eos: a sampled end of text must not finish a request before its client goes away.
    const long = { max_tokens: 1500, temperature: 0, ignore_eos: true };
    const streams = [1, 2, 3].map(async (chunks) => {
      const controller = new AbortController();
      const res = await fetch(`${fault.url}/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        signal: controller.signal,
        body: JSON.stringify({ model: 'tiny-chat', prompt: 'The tide', stream: true, ...long }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      for (let i = 0; i < chunks; i++) await reader.read();
      controller.abort();
    });
    await Promise.all(streams);
    // The engine drops the streams at its next token boundary.
    let stats = await idleEngine(fault);

    // A non-streaming caller that hangs up before its answer is complete. Started only once the streams are
    // gone, so the engine being busy means this request is generating.
    const impatient = new AbortController();
    const unary = complete(fault.url, long, impatient.signal);
    await waitFor(async () => busy(await fault.node.engineStats()) > 0, { message: 'the non-streaming request to be generating' });
    impatient.abort();
    expect((await unary).status).toBe(0);
    stats = await idleEngine(fault);
    expect(busy(stats)).toBe(0);
    expect(stats.memory.kvBlocksUsed).toBe(0);

    const next = await complete(fault.url, { max_tokens: 8 });
    expect(next.status).toBe(200);
    // 1 before + 4 abandoned + 1 after, each recorded; the abandoned ones as cancelled, short of 1500 tokens.
    await fault.plane.recorder.flush();
    const recorded = await recordedStatuses(fault);
    expect(total(recorded)).toBe(6);
    expect(recorded.cancelled).toBe(4);
    const cancelled = await fault.database.db.selectFrom('invocations').select('completion_tokens').where('status', '=', 'cancelled').execute();
    for (const row of cancelled) expect(row.completion_tokens).toBeLessThan(1500);
    console.log(`cancelled after ${cancelled.map((r) => r.completion_tokens).join(', ')} tokens; KV blocks in use afterwards: ${stats.memory.kvBlocksUsed}`);
  });
});

function idleEngine(fault: FaultPlane) {
  return waitFor(
    async () => {
      const now = await fault.node.engineStats();
      return now.memory.kvBlocksUsed === 0 && busy(now) === 0 ? now : undefined;
    },
    { intervalMs: 50, message: 'the engine to drop every sequence and free their KV blocks' },
  );
}

function busy(stats: Awaited<ReturnType<FaultPlane['node']['engineStats']>>): number {
  return stats.models.reduce((n, m) => n + m.running + m.waiting + m.parked, 0);
}
