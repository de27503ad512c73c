import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../platform/storage/s3-object-store.js';
import { ENGINE_BIN, ENGINE_BUILT } from '../e2e/e2e-server.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { complete, recordedStatuses, startFaultPlane, total, type FaultPlane } from './fault-plane.js';
import { letTimePass } from '../helpers/wait-for.js';

if (!ENGINE_BUILT) console.log(`skip: object store fault test needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

// The object store (s3rver, over the S3 protocol) stops answering while a function's weights are cold: the
// host pool retries each blob with backoff, then the callers get 503 store_unavailable naming the cause; a
// store that comes back during the retries is simply waited for, and afterwards cold starts work again.
describe.skipIf(!ENGINE_BUILT)('fault: the object store is unreachable during a cold start', () => {
  let s3: RunningS3rver;
  let fault: FaultPlane;
  beforeAll(async () => {
    s3 = await startS3rver();
    const store = new S3ObjectStore({ bucket: s3.bucket, prefix: 'weights/', client: s3.client });
    fault = await startFaultPlane({ store });
    // The control plane reads the model's config and tokenizer once (deploy starts it); let that finish, so
    // the outage below hits the node's cold start, not this read.
    await fault.plane.functions.resolve('tiny-chat');
  });
  afterAll(async () => {
    await fault?.close();
    await s3?.stop();
  });

  it('retries with backoff, answers 503 with the reason, and recovers when the store returns', { timeout: 60_000 }, async () => {
    await s3.halt();
    const started = Date.now();
    const refused = await Promise.all(Array.from({ length: 3 }, () => complete(fault.url, {})));
    const refusedMs = Date.now() - started;
    for (const answer of refused) {
      expect(answer.status, answer.body).toBe(503);
      const error = JSON.parse(answer.body).error;
      expect(error.code).toBe('store_unavailable');
      expect(error.message).toMatch(/object store unreachable after 4 attempts/);
    }
    // Backoff 250 + 500 + 1000 ms between the four tries of the one shared fetch.
    expect(refusedMs).toBeGreaterThanOrEqual(1750);
    const retries = (await fault.registry.getSingleMetric('tidepool_host_pool_fetch_retries_total')!.get()).values[0]!.value;
    expect(retries).toBe(3);
    console.log(`store down: 503 after ${refusedMs} ms, ${retries} retries: ${JSON.parse(refused[0]!.body).error.message}`);

    // Down when the cold start begins, back 600 ms later: the retries carry the request through.
    const waiting = complete(fault.url, {});
    await letTimePass(600); // the outage's length is the scenario
    await s3.resume();
    const recovered = await waiting;
    expect(recovered.status, recovered.body).toBe(200);
    expect((await complete(fault.url, {})).status).toBe(200);

    const recorded = await recordedStatuses(fault);
    expect(total(recorded)).toBe(5);
    expect(recorded.rejected).toBe(3);
    expect(recorded.length).toBe(2);
  });
});
