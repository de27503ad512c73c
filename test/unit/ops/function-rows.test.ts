import type { WeightsDigest } from '../../../protocol/weights-digest.js';
import { describe, expect, it } from 'vitest';
import type { FunctionSummary } from '../../../platform/db/repositories/function-repository.js';
import { functionRows } from '../../../platform/ops/function-rows.js';
import type { NodeSnapshot } from '../../../platform/ops/node-snapshot.js';
import { realDigest } from '../../helpers/weights-digest.js';

function summary(name: string, digest: WeightsDigest, slo?: object): FunctionSummary {
  const at = new Date(0);
  return {
    name,
    description: '',
    activeVersion: 2,
    createdAt: at,
    updatedAt: at,
    active: { functionName: name, version: 2, manifest: { name, ...(slo && { slo }) }, weightsDigest: digest, files: [], sizeBytes: 1, createdAt: at },
  };
}

function node(id: string, residency: NodeSnapshot['residency'], stats?: NodeSnapshot['stats']): NodeSnapshot {
  return { node: { id, status: 'ready', gpus: [], hostPool: { capacityBytes: 0, usedBytes: 0 } }, residency, ...(stats && { stats }) };
}

const model = (functionName: string, weightsDigest: WeightsDigest, tier: 'gpu' | 'host' | 'store', queued = 0, running = 0) => ({
  functionName,
  weightsDigest,
  tier,
  bytes: 1,
  queued,
  running,
});

describe('ops function rows', () => {
  it('take the best tier of the active artifact across nodes, ignoring older versions', () => {
    const rows = functionRows(
      [summary('chat', realDigest('new')), summary('code', realDigest('code'))],
      [node('a', [model('chat', realDigest('old'), 'gpu'), model('chat', realDigest('new'), 'store')]), node('b', [model('chat', realDigest('new'), 'host')])],
      [],
    );
    expect(rows.map((r) => [r.name, r.tier])).toEqual([
      ['chat', 'host'],
      ['code', 'store'],
    ]);
  });

  it('sum queue and running over nodes, preferring a node stats over its residency counts', () => {
    const stats = {
      functions: [{ functionName: 'chat', weightsDigest: realDigest('new'), queued: 4, running: 2 }],
      gpus: [],
      hostPool: { capacityBytes: 0, usedBytes: 0 },
    };
    const rows = functionRows(
      [summary('chat', realDigest('new'))],
      [node('a', [model('chat', realDigest('new'), 'gpu', 1, 1)], stats), node('b', [model('chat', realDigest('old'), 'host', 3, 0)])],
      [],
    );
    expect(rows[0]).toMatchObject({ queueDepth: 7, running: 2 });
  });

  it('compute attainment over judged invocations only, null with none, and default the SLO', () => {
    const rows = functionRows(
      [summary('chat', realDigest('a'), { ttft_ms: 500, tpot_ms: 50 }), summary('idle', realDigest('b'))],
      [],
      [{ functionName: 'chat', invocations: 5, judged: 4, met: 3, ttftP50Ms: 120, tpotP50Ms: 12 }],
    );
    expect(rows[0]).toMatchObject({ version: 2, slo: { ttft_ms: 500, tpot_ms: 50 }, attainment: 0.75, invocations5m: 5, ttftP50Ms: 120, tpotP50Ms: 12 });
    expect(rows[1]).toMatchObject({ slo: { ttft_ms: 10_000, tpot_ms: 100 }, attainment: null, invocations5m: 0, ttftP50Ms: null, tpotP50Ms: null });
  });
});
