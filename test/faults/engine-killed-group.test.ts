import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { recordedStatuses, startFaultPlane, total, type FaultPlane } from './fault-plane.js';

if (!ENGINE_BUILT) console.log(`skip: engine group fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// SIGKILL of the engine while a request's n = 4 choices stream as one group: the stream ends at once with an
// error frame (no [DONE]), every choice is recorded as failed (none left open, none waiting for a timeout),
// a group sent while the engine restarts waits for it and is served whole, and the engine serves on.
describe.skipIf(!ENGINE_BUILT)('fault: the engine is killed under a group of choices', () => {
  let fault: FaultPlane | undefined;
  afterAll(async () => fault?.close());

  it('fails every choice of the running group at once and serves the next group', { timeout: 120_000 }, async () => {
    // As in engine-killed.test.ts: a run where the choices finished before the kill landed says nothing.
    for (let attempt = 1; ; attempt++) {
      fault = await startFaultPlane();
      if ((await killUnderGroup(fault)) === 'checked') return;
      console.log(`attempt ${attempt}: the kill landed after the group had finished; retrying on a fresh plane`);
      await fault.close();
      fault = undefined;
      expect(attempt, 'the kill never landed while the group was running').toBeLessThan(3);
    }
  });
});

function chat(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'The tide' }], temperature: 1, seed: 5, n: 4, ...body }),
  });
}

async function killUnderGroup(fault: FaultPlane): Promise<'checked' | 'late'> {
  expect((await chat(fault.url, { max_tokens: 2 })).status).toBe(200);
  const firstPid = fault.node.enginePid();
  const res = await chat(fault.url, { max_tokens: 1500, ignore_eos: true, stream: true });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  const killedAt = performance.now();
  process.kill(firstPid!, 'SIGKILL');
  // Sent while the engine is down: waits for the restart and runs as one group there.
  const during = chat(fault.url, { max_tokens: 6 }).then(async (r) => ({ status: r.status, body: (await r.json()) as { choices?: unknown[] } }));
  for (let next = await reader.read(); !next.done; next = await reader.read()) text += decoder.decode(next.value, { stream: true });
  const endedMs = performance.now() - killedAt;
  if (text.includes('"finish_reason":"length"') && text.trimEnd().endsWith('data: [DONE]')) return 'late';
  expect(text).not.toContain('data: [DONE]');
  const frames = text
    .split('\n\n')
    .filter((f) => f.startsWith('data: {'))
    .map((f) => JSON.parse(f.slice(6)));
  expect(frames.at(-1)).toMatchObject({ error: { code: 'engine_down', message: expect.stringMatching(/engine/) } });
  console.log(`group stream ended ${endedMs.toFixed(0)} ms after the kill: ${text.trim().split('\n').at(-1)}`);
  expect(endedMs).toBeLessThan(10_000);
  const waited = await during;
  expect(waited.status).toBe(200);
  expect(waited.body.choices).toHaveLength(4);
  expect(fault.node.enginePid()).not.toBe(firstPid);

  // 4 choices before + 4 killed + 4 sent during the restart: each choice recorded, the killed ones as errors.
  const recorded = await recordedStatuses(fault);
  expect(total(recorded)).toBe(12);
  expect(recorded.error).toBe(4);
  expect(recorded.rejected ?? 0).toBe(0);
  expect(recorded.cancelled ?? 0).toBe(0);
  return 'checked';
}
