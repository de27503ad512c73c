import { describe, expect, it } from 'vitest';
import type { OpsFunction, OpsState } from '../../../platform/ops/ops-types.js';
import { bar, renderTop } from '../../../cli/top-view.js';

const MiB = 2 ** 20;

function fn(overrides: Partial<OpsFunction> = {}): OpsFunction {
  return {
    name: 'chat',
    version: 3,
    tier: 'gpu',
    slo: { ttft_ms: 1000, tpot_ms: 100 },
    attainment: 0.995,
    invocations5m: 42,
    ttftP50Ms: 120,
    tpotP50Ms: 40,
    queueDepth: 2,
    running: 1,
    ...overrides,
  };
}

function state(functions: OpsFunction[]): OpsState {
  return {
    generatedAt: '2026-11-24T07:00:00.000Z',
    functions,
    nodes: [
      {
        id: 'node-a',
        status: 'ready',
        url: 'http://10.0.0.7:8081',
        hostPool: { capacityBytes: 1024 * MiB, usedBytes: 256 * MiB },
        gpus: [
          {
            index: 0,
            name: 'H100',
            memoryBytes: 1000 * MiB,
            weightsBytes: 500 * MiB,
            kvBytes: 250 * MiB,
            kvUsedBytes: 25 * MiB,
            scratchBytes: 50 * MiB,
            freeBytes: 200 * MiB,
            resident: ['chat', 'code'],
            up: true,
          },
        ],
      },
      { id: 'node-b', status: 'down', url: 'http://10.0.0.8:8081', hostPool: { capacityBytes: 0, usedBytes: 0 }, gpus: [] },
    ],
  };
}

describe('tidepool top renderer', () => {
  it('lays out functions with tier, queue, running, attainment, and p50 against the SLO', () => {
    const lines = renderTop(
      state([
        fn(),
        fn({ name: 'cold', version: 1, tier: 'store', attainment: null, invocations5m: 0, ttftP50Ms: null, tpotP50Ms: null, queueDepth: 0, running: 0 }),
      ]),
      { color: false, source: 'http://cp:8080' },
    );
    expect(lines[0]).toMatch(/^tidepool top {2}http:\/\/cp:8080 {2}\d\d:\d\d:\d\d {2}2 nodes, 2 functions$/);
    expect(lines[2]).toBe('FUNCTION  VER  TIER   QUEUE  RUN  SLO 5m  REQ 5m  TTFT p50 / SLO    TPOT p50 / SLO');
    expect(lines[3]).toBe('chat      v3   gpu    2      1    99.5%   42      120 ms / 1000 ms  40.0 ms / 100 ms');
    expect(lines[4]).toBe('cold      v1   store  0      0    -       0       - / 1000 ms       - / 100 ms');
  });

  it('draws each node with its host pool and per-GPU memory split bars, and a node that did not answer', () => {
    const lines = renderTop(state([fn()]), { color: false, barWidth: 20 });
    const node = lines.indexOf(lines.find((l) => l.startsWith('node node-a'))!);
    expect(lines[node]).toBe('node node-a  ready  http://10.0.0.7:8081  host pool [#####...............] 256.0 MiB / 1.0 GiB');
    expect(lines[node + 1]).toBe(
      '  gpu 0 H100  [##########=====-....]  weights 500.0 MiB  kv 250.0 MiB (10% used)  free 200.0 MiB of 1000.0 MiB  resident: chat, code',
    );
    expect(lines).toContain('node node-b  down  http://10.0.0.8:8081  host pool [                    ] 0 B / 0 B');
    expect(lines).toContain('  no engine figures (down)');
    expect(lines.at(-1)).toContain('# weights');
  });

  it('colors attainment green at or above 99%, yellow from 90%, red below, and marks a p50 over its SLO', () => {
    const colored = (f: OpsFunction) => renderTop(state([f]), { color: true })[3]!;
    expect(colored(fn({ attainment: 0.99 }))).toContain('\x1b[32m99.0%');
    expect(colored(fn({ attainment: 0.95 }))).toContain('\x1b[33m95.0%');
    expect(colored(fn({ attainment: 0.5 }))).toContain('\x1b[31m50.0%');
    const slow = renderTop(state([fn({ ttftP50Ms: 1500, tpotP50Ms: 250 })]), { color: false })[3]!;
    expect(slow).toContain('1500 ms / 1000 ms !');
    expect(slow).toContain('250 ms / 100 ms !');
    expect(renderTop(state([fn()]), { color: false }).join('\n')).not.toContain('\x1b[');
  });

  it('shows an engine that is restarting instead of a bar', () => {
    const s = state([fn()]);
    const restarting: OpsState = { ...s, nodes: [{ ...s.nodes[0]!, gpus: [{ ...s.nodes[0]!.gpus[0]!, up: false }] }] };
    expect(renderTop(restarting, { color: false })).toContain('  gpu 0 H100  engine restarting');
  });

  it('says so when nothing is deployed', () => {
    expect(renderTop({ generatedAt: new Date().toISOString(), nodes: [], functions: [] }, { color: false })).toContain(
      'no functions deployed (tidepool deploy functions/<name>)',
    );
  });

  it('fills a bar exactly to its width whatever the rounding', () => {
    for (const parts of [
      [1, 1, 1],
      [1, 0, 2],
      [7, 3, 0],
      [0.4, 0.4, 0.2],
    ]) {
      const text = bar(
        parts.map((bytes, i) => [bytes, 'abc'[i]!, 'dim'] as const),
        10,
        false,
      );
      expect(text).toHaveLength(12);
    }
    expect(
      bar(
        [
          [3, '#', 'blue'],
          [1, '.', 'dim'],
        ],
        8,
        false,
      ),
    ).toBe('[######..]');
  });
});
