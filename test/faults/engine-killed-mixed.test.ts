import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { complete, startFaultPlane, type Answer, type FaultPlane } from './fault-plane.js';
import { openStream } from './open-stream.js';

if (!ENGINE_BUILT) console.log(`skip: engine fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

/** Far beyond anything a healthy restart needs: a request still waiting then was stranded. */
const STRANDED_AFTER_MS = 20_000;

// SIGKILL of the engine while two models have requests on it: streams of one model running, requests of
// both queued behind them in the scheduler. Nothing is left to wait out its queue timeout (60 s here): the
// running streams end with an error frame, and every request that had not produced a token is resubmitted
// to the restarted engine and served. Each answer arrives within a few seconds of the kill.
describe.skipIf(!ENGINE_BUILT)('fault: the engine is killed under mixed traffic of two models', () => {
  let fault: FaultPlane | undefined;
  afterAll(async () => fault?.close());

  it('strands no request: cut streams end with an error, every queued request of every model is served or, if it had started, cut with a retryable error', {
    timeout: 120_000,
  }, async () => {
    fault = await startFaultPlane({ node: { queueTimeoutMs: 60_000 } });
    await deployFunction(createApiClient({ baseUrl: fault.url }), await prepareFunctionDir('functions/tiny-qwen', fault.dataDir), { progress: false });
    expect((await complete(fault.url, { model: 'tiny-qwen' })).status).toBe(200);
    expect((await complete(fault.url, {})).status).toBe(200);
    const url = fault.url;
    const streams = await Promise.all(Array.from({ length: 2 }, () => openStream(url)));
    const queued: Promise<Answer & { model: string; ms: number }>[] = [];
    let killedAt = 0;
    const timed = (model: string, body: Record<string, unknown>) =>
      complete(url, { model, ...body }).then((answer) => ({ ...answer, model, ms: performance.now() - killedAt }));
    for (let i = 0; i < 3; i++) {
      queued.push(timed('tiny-qwen', { max_tokens: 8 }));
      queued.push(timed('tiny-chat', { max_tokens: 8, prompt: `request ${i}` }));
    }
    // Kill once both models have requests admitted that have not produced a token yet.
    await waitFor(
      async () => {
        const models = await fault!.node.residency();
        return ['tiny-qwen', 'tiny-chat'].every((name) => models.some((m) => m.functionName === name && m.queued > 0));
      },
      { message: 'requests of both models admitted and waiting for their first token', timeoutMs: 30_000, intervalMs: 1 },
    );
    const pid = fault.node.enginePid()!;
    killedAt = performance.now();
    process.kill(pid, 'SIGKILL');

    const settled = await Promise.race([
      Promise.all([Promise.all(streams.map((s) => s.rest())), Promise.all(queued)]),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), STRANDED_AFTER_MS).unref()),
    ]);
    expect(settled, `requests still waiting ${STRANDED_AFTER_MS} ms after the kill`).toBeDefined();
    const [ends, answers] = settled!;
    for (const text of ends) {
      if (text.trimEnd().endsWith('data: [DONE]')) continue; // finished before the kill landed
      const last = JSON.parse(text.trimEnd().split('\n').at(-1)!.slice('data: '.length)) as { error?: { code: string; message: string } };
      expect(last.error).toMatchObject({ code: 'engine_down', message: expect.stringMatching(/engine_down: .*killed by SIGKILL/) });
    }
    // A request still queued at the kill is resubmitted and served. One that the scheduler admitted between
    // the residency check and the kill (continuous batching joins it to the running streams at once) had
    // produced tokens already: it is cut like the streams, with a retryable engine_down, never left waiting.
    for (const answer of answers) {
      if (answer.status === 200) continue;
      expect(answer, `${answer.model}: ${answer.body}`).toMatchObject({ status: 503 });
      const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
      expect(error, answer.model).toMatchObject({
        code: 'engine_down',
        message: expect.stringMatching(/^generation failed: engine_down: .*killed by SIGKILL/),
      });
    }
    expect(answers.filter((a) => a.status === 200).length, 'queued requests served after the restart').toBeGreaterThan(0);
    expect(fault.node.enginePid()).not.toBe(pid);
    const resubmits = (await fault.registry.getSingleMetric('tidepool_engine_resubmits_total')!.get()).values[0]?.value ?? 0;
    expect(resubmits).toBeGreaterThan(0);
    console.log(
      `after the kill: ${answers.length} queued requests of two models all served, the last ${Math.max(...answers.map((a) => a.ms)).toFixed(0)} ms after it; ` +
        `${resubmits} resubmitted; streams: ${ends.map((t) => (t.includes('"code":"engine_down"') ? 'cut' : 'finished')).join(', ')}`,
    );
    await fault.plane.recorder.flush();
    const rows = await fault.database.db.selectFrom('invocations').select(['function_name', 'status']).execute();
    // 2 warm-up requests, 2 streams, 6 queued: every one recorded.
    expect(rows).toHaveLength(10);
    expect(rows.filter((r) => r.status === 'rejected')).toEqual([]);
  });
});
