import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');

function tidepool(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('tidepool plan', () => {
  it('prints min GPUs, goodput and models per GPU per policy and writes JSON and SVG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const out = join(dir, 'plan.json');
    const r = await tidepool(['plan', '--workload', 'w1', '--models', '4', '--rate', '0.05', '--duration-s', '60',
      '--policies', 'tidepool,dedicated', '--ttft-ms', '5000', '--tpot-ms', '50', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tidepool\s+1\s+4\.0\s+/);
    expect(r.stdout).toMatch(/dedicated\s+4\s+1\.0\s+/);
    expect(r.stdout).toContain('free-switch lower bound: 1 GPUs');
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json).toMatchObject({ workload: 'W1', functions: 4, slo: { ttftMs: 5000, tpotMs: 50 }, gpu: 'H100', freeSwitchBound: 1 });
    expect(json.policies.map((p: { policy: string }) => p.policy)).toEqual(['tidepool', 'dedicated']);
    expect(json.policies[0].goodputReqPerS).toBeGreaterThan(0);
    const svg = await readFile(join(dir, 'plan.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('dedicated');
    const goodputChart = await readFile(join(dir, 'plan-goodput.svg'), 'utf8');
    expect(goodputChart).toContain('attainment vs offered rate');
    expect(goodputChart).toContain('tidepool');
  }, 60_000);

  it('plans a JSON-lines trace file and prints --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const trace = join(dir, 'trace.jsonl');
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({
      at_s: i * 2.5, function: i % 2 ? 'chat' : 'code', shape: i % 2 ? 'qwen2_5_7b' : 'qwen2_5_1_5b', prompt_tokens: 300, output_tokens: 50,
    }));
    await writeFile(trace, lines.join('\n') + '\n');
    const r = await tidepool(['plan', '--trace', trace, '--policies', 'tidepool,aegaeon', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ workload: 'trace', functions: 2, requests: 12 });
    expect(json.policies[0]).toMatchObject({ policy: 'tidepool', minGpus: 1, modelsPerGpu: 2 });
  }, 60_000);

  it('fails with one line on bad input', async () => {
    const r = await tidepool(['plan', '--workload', 'w1', '--policies', 'fastest']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('tidepool: --policies: unknown fastest');
    const none = await tidepool(['plan']);
    expect(none.stderr).toContain('give exactly one of --workload');
  }, 60_000);
});
