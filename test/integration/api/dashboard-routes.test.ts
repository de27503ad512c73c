import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterTimeline } from '../../../platform/api/ops-timeline-types.js';
import { dashboardRoutes } from '../../../platform/api/dashboard-routes.js';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import { HttpNodeRuntime } from '../../../platform/router/http-node.js';
import { createRouter } from '../../../platform/router/router.js';
import { startNodeServer, type NodeServer } from '../../../runtime/cluster/node-server.js';
import { createTimelineRecorder, type TimelineRecorder } from '../../../runtime/timeline/timeline-recorder.js';
import { memoryBlobs, scriptedNode } from './api-helpers.js';
import { digest } from '../../helpers/weights-digest.js';

const TOKEN = 'cluster-token-for-tests';

/** Reads `/v1/ops/events` until `count` events named `name` arrived; returns their data. */
/** The first `count` events named `name` from `/v1/ops/events`; `onEvent` sees each as it arrives. */
async function readEvents(url: string, name: string, count: number, onEvent?: (index: number) => void): Promise<unknown[]> {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/ops/events`, { signal: controller.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const out: unknown[] = [];
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event === name && data) onEvent?.(out.push(JSON.parse(data)) - 1);
    }
    if (out.length >= count) break;
  }
  controller.abort();
  return out;
}

// The timeline routes over the cluster path: a recorder on a node served by the real node server, proxied
// by the HTTP node client, assembled by the control plane; next to it a node that keeps no timeline.
describe('dashboard routes (/v1/ops/timeline, /v1/ops/events, /dashboard)', () => {
  let database: Database;
  let plane: ControlPlane;
  let nodeServer: NodeServer;
  let timeline: TimelineRecorder;
  let url: string;

  beforeAll(async () => {
    database = await openDatabase({});
    timeline = createTimelineRecorder({ nodeId: 'gpu-node-1', gpus: [{ index: 0, label: 'cuda:0' }], functionOf: (key) => `fn-${key}` });
    const node = Object.assign(scriptedNode(), { nodeId: 'gpu-node-1', timeline: async (since?: number) => timeline.read(since) });
    nodeServer = await startNodeServer({ node, token: TOKEN, host: '127.0.0.1', port: 0 });
    const remote = new HttpNodeRuntime('gpu-node-1', nodeServer.url, TOKEN);
    const silent = Object.assign(scriptedNode(), { nodeId: 'old-node' });
    plane = createControlPlane({ database, blobs: memoryBlobs(), router: createRouter({ nodes: [remote, silent] }) });
    url = await plane.listen(0, '127.0.0.1');
    timeline.record(0, { type: 'switch', atMs: performance.now(), from: undefined, to: digest('a'), ms: 0, estimateMs: 0, overrun: false });
    timeline.record(0, { type: 'turn', atMs: performance.now(), weightsDigest: digest('a'), steps: 3, quotaSteps: 8, reason: 'done', ms: 2 });
  });
  afterAll(async () => {
    await plane?.close();
    await nodeServer?.close();
    await database?.close();
  });

  it("collects every node's spans through the node server, and names a node that keeps none", async () => {
    const res = await request(url).get('/v1/ops/timeline').expect(200);
    const body = res.body as ClusterTimeline;
    expect(body.nodes.map((n) => n.nodeId)).toEqual(['gpu-node-1']);
    expect(body.nodes[0]!.gpus).toEqual([{ index: 0, label: 'cuda:0' }]);
    expect(body.nodes[0]!.spans.map((s) => [s.kind, s.function])).toEqual([
      ['switch', 'fn-a'],
      ['run', 'fn-a'],
    ]);
    expect(body.unavailable).toEqual([{ nodeId: 'old-node', message: 'this node keeps no timeline' }]);
    const since = body.nodes[0]!.spans[0]!.endMs;
    const later = (await request(url).get(`/v1/ops/timeline?since=${since}`).expect(200)).body as ClusterTimeline;
    expect(later.nodes[0]!.spans.map((s) => s.kind)).toEqual(['run']);
  });

  it('refuses a since that is not a time, naming the parameter', async () => {
    for (const since of ['yesterday', '-5']) {
      const res = await request(url).get(`/v1/ops/timeline?since=${since}`).expect(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param: 'since' });
    }
  });

  it('streams the backlog first, then only new spans, each once', async () => {
    // The new span is recorded once the backlog has arrived, so it can only come in a later event.
    const events = (await readEvents(url, 'timeline', 4, (index) => {
      if (index === 0) timeline.record(0, { type: 'evict', atMs: performance.now(), weightsDigest: digest('a') });
    })) as ClusterTimeline[];
    const kinds = events.map((e) => e.nodes.flatMap((n) => n.spans.map((s) => s.kind)));
    expect(kinds[0]).toEqual(['switch', 'run']);
    expect(kinds.slice(1).flat()).toEqual(['evict']);
  });

  it('answers 503 naming the build script when the bundle is missing', async () => {
    const app = express().use(dashboardRoutes({ router: createRouter({ nodes: [scriptedNode()] }), dashboardDir: '/nonexistent/dashboard' }));
    const res = await request(app).get('/dashboard/').expect(503);
    expect(res.text).toMatch(/scripts\/build-dashboard\.mjs/);
  });
});
