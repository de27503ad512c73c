import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
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
    const r = await tidepool([
      'plan',
      '--workload',
      'w1',
      '--models',
      '4',
      '--rate',
      '0.05',
      '--duration-s',
      '60',
      '--policies',
      'tidepool,dedicated',
      '--ttft-ms',
      '5000',
      '--tpot-ms',
      '50',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tidepool\s+1\s+4\.0\s+/);
    expect(r.stdout).toMatch(/dedicated\s+4\s+1\.0\s+/);
    expect(r.stdout).toContain('lower bound: 1 GPUs (no schedule reaches the target on fewer');
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json).toMatchObject({ workload: 'W1', functions: 4, slo: { ttftMs: 5000, tpotMs: 50 }, gpu: 'H100', lowerBound: 1 });
    expect(json.policies.map((p: { policy: string }) => p.policy)).toEqual(['tidepool', 'dedicated']);
    expect(json.policies[0].goodputReqPerS).toBeGreaterThan(0);
    const svg = await readFile(join(dir, 'plan.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('dedicated');
    expect(json.switchCost).toEqual({ h2dGBps: 50, overheadMs: 20, fromFlags: false });
    // Each goodput run: the rate multiple, the req/s offered, attainment, and the req/s that met the SLO.
    for (const run of json.policies[0].goodputRuns) {
      expect(run.sloMetReqPerS).toBeGreaterThanOrEqual(0);
      expect(run.sloMetReqPerS).toBeLessThanOrEqual(run.reqPerS + 1e-9);
    }
    const goodputChart = await readFile(join(dir, 'plan-goodput.svg'), 'utf8');
    expect(goodputChart).toContain('goodput vs offered load');
    expect(goodputChart).toContain('goodput: requests/s meeting the SLO');
    expect(goodputChart).toContain('offered load (requests/s)');
    expect(goodputChart).toContain('tidepool');
    const rateChart = await readFile(join(dir, 'plan-attainment-vs-rate.svg'), 'utf8');
    expect(rateChart).toContain('attainment vs offered load');
    expect(r.stdout).toContain('switch cost: weight bytes / 50 GB/s + 20 ms');
  }, 60_000);

  it('names the shapes a GPU type has no calibration for, and those too large for it, instead of crashing', async () => {
    const w1 = await tidepool(['plan', '--workload', 'w1', '--gpu', 'a10']);
    expect(w1.code).toBe(1);
    expect(w1.stderr.trim().split('\n')).toHaveLength(1);
    expect(w1.stderr).toContain('tidepool: --gpu a10: no step-time calibration on A10 for llama2_13b_chat, yi1_5_9b_chat (used by this workload)');
    expect(w1.stderr).toContain('GPU types calibrated for all its shapes: h100, h800, h20, a100');
    // qwen2_5_14b is priced from qwen2_5_7b, which is profiled on an A10, but its weights exceed an A10's arena.
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const trace = join(dir, 'trace.jsonl');
    await writeFile(trace, `${JSON.stringify({ at_s: 0, function: 'big', shape: 'qwen2_5_14b', prompt_tokens: 100, output_tokens: 10 })}\n`);
    const big = await tidepool(['plan', '--trace', trace, '--gpu', 'a10']);
    expect(big.code).toBe(1);
    expect(big.stderr.trim().split('\n')).toHaveLength(1);
    expect(big.stderr).toContain('tidepool: --gpu a10: qwen2_5_14b (29.5 GB) cannot load on A10: its weights arena is at most 80% of 22.0 GB');
  }, 60_000);

  it('plans on an A10 a trace whose shapes are calibrated there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const trace = join(dir, 'trace.jsonl');
    await writeFile(
      trace,
      [0, 1.5, 3].map((t) => JSON.stringify({ at_s: t, function: 'chat', shape: 'qwen2_5_7b', prompt_tokens: 200, output_tokens: 20 })).join('\n'),
    );
    const r = await tidepool(['plan', '--trace', trace, '--gpu', 'a10', '--policies', 'tidepool', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ gpu: 'A10', switchCost: { h2dGBps: 25, overheadMs: 20 }, policies: [{ policy: 'tidepool', minGpus: 1 }] });
  }, 60_000);

  it('takes the switch cost from --h2d-gbps and --switch-overhead-ms', async () => {
    const args = ['plan', '--workload', 'w1', '--models', '6', '--rate', '0.1', '--duration-s', '120', '--policies', 'tidepool', '--ttft-ms', '3000', '--json'];
    const base = await tidepool(args);
    const slow = await tidepool([...args, '--h2d-gbps', '2', '--switch-overhead-ms', '500']);
    expect(base.code, base.stderr).toBe(0);
    expect(slow.code, slow.stderr).toBe(0);
    const [b, s] = [JSON.parse(base.stdout), JSON.parse(slow.stdout)];
    expect(s.switchCost).toEqual({ h2dGBps: 2, overheadMs: 500, fromFlags: true });
    // A 15 GB load now takes ~8 s against a 3 s TTFT: the same GPU count serves far fewer tokens on time.
    const at = (j: { points: { gpus: number; attainment: number }[] }, g: number) => j.points.find((p) => p.gpus === g)?.attainment;
    expect(at(s, 1)).toBeLessThan(at(b, 1)! - 0.1);
    expect(s.policies[0].minGpus ?? Infinity).toBeGreaterThan(b.policies[0].minGpus);
  }, 60_000);

  it('refuses a switch cost that is not a number in range, in one line', async () => {
    for (const [flags, message] of [
      [['--h2d-gbps', '0'], '--h2d-gbps: 0 is not a number in (0, 10000]'],
      [['--h2d-gbps', 'fast'], '--h2d-gbps: fast is not a number in (0, 10000]'],
      [['--switch-overhead-ms', '-1'], '--switch-overhead-ms: -1 is not a number in [0, 600000]'],
      [['--switch-overhead-ms', 'soon'], '--switch-overhead-ms: soon is not a number in [0, 600000]'],
    ] as const) {
      const r = await tidepool(['plan', '--workload', 'w1', ...flags]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`tidepool: ${message}`);
    }
  }, 60_000);

  it('plans a JSON-lines trace file and prints --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    const trace = join(dir, 'trace.jsonl');
    const lines = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({
        at_s: i * 2.5,
        function: i % 2 ? 'chat' : 'code',
        shape: i % 2 ? 'qwen2_5_7b' : 'qwen2_5_1_5b',
        prompt_tokens: 300,
        output_tokens: 50,
      }),
    );
    await writeFile(trace, `${lines.join('\n')}\n`);
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
