import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { startE2eServer, type E2eServer } from './e2e-server.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');

function start(url: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  // NO_COLOR and a pipe for stdout: what a script sees, so the output is plain text.
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, TIDEPOOL_API_URL: url, NO_COLOR: '1' } });
}

/** Runs the real `bin/tidepool.mjs` to its end. */
function tidepool(url: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = start(url, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Resolves with everything the child printed once `done(stdout)` holds; rejects after `ms`. */
function waitForOutput(child: ChildProcessWithoutNullStreams, done: (stdout: string) => boolean, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`timed out; stdout: ${stdout}; stderr: ${stderr}`)), ms);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (done(stdout)) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
  });
}

// `tidepool logs` and `tidepool top` against a real listening control plane (the real CPU engine when built).
describe('tidepool logs and top', () => {
  let server: E2eServer;
  const invoke = (maxTokens: number) => request(server.url).post('/v1/functions/tiny-chat/invoke').send({ prompt: 'tide', max_tokens: maxTokens }).expect(200);

  beforeAll(async () => {
    server = await startE2eServer();
    console.log(`ops cli e2e: node is ${server.engine === 'cpu' ? 'the real CPU engine' : 'scripted (engine binary not built)'}`);
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', server.dataDir), { progress: false });
    for (const maxTokens of [2, 3, 4]) await invoke(maxTokens);
    await server.plane.recorder.flush();
  });
  afterAll(async () => server?.close());

  it('logs prints recent invocations oldest to newest with tokens, latencies and node', async () => {
    const res = await tidepool(server.url, ['logs', 'tiny-chat', '--limit', '2']);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+STATUS\s+TOKENS\s+TTFT\s+TPOT\s+ID\s+NODE$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} length\\s+\\d+/3\\s+[\\d.]+ ms\\s+.* [0-9a-z-]{36,41}\\s+${server.node.nodeId}$`),
    );
    expect(lines[2]).toMatch(/length\s+\d+\/4\s/);
    // tiny-chat's SLO is 10 s / 100 ms: nothing here is slow enough to be marked.
    expect(res.stdout).not.toContain(' !');
  });

  it('logs --json prints the rows as JSON', async () => {
    const res = await tidepool(server.url, ['logs', 'tiny-chat', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const rows = JSON.parse(res.stdout) as { completion_tokens: number; function: string }[];
    expect(rows.map((r) => r.completion_tokens)).toEqual([2, 3, 4]);
    expect(rows.every((r) => r.function === 'tiny-chat')).toBe(true);
  });

  it('logs --follow prints invocations as they are recorded', async () => {
    const child = start(server.url, ['logs', 'tiny-chat', '--follow', '--limit', '1']);
    try {
      await waitForOutput(child, (out) => out.includes('/4 '));
      const printed = waitForOutput(child, (out) => out.includes('/7 '));
      await invoke(7);
      const out = await printed;
      expect(out.split('\n').filter((l) => l.includes('/7 '))).toHaveLength(1);
      expect(out).not.toContain('/4 ');
    } finally {
      child.kill('SIGINT');
    }
  });

  it('logs fails in one line for an unknown function, a bad limit and an unreachable control plane', async () => {
    const unknown = await tidepool(server.url, ['logs', 'no-such-fn']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('tidepool: function no-such-fn does not exist (HTTP 404 function_not_found)\n');
    const limit = await tidepool(server.url, ['logs', 'tiny-chat', '--limit', '0']);
    expect(limit.stderr).toBe('tidepool: --limit must be an integer from 1 to 1000, not 0\n');
    const away = await tidepool('http://127.0.0.1:9', ['logs', 'tiny-chat']);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/^tidepool: cannot reach the control plane at http:\/\/127\.0\.0\.1:9 .*\n$/);
  });

  it('top --once prints one frame: functions with tier and SLO columns, nodes with memory bars', async () => {
    const res = await tidepool(server.url, ['top', '--once']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).not.toContain('\x1b[');
    expect(res.stdout).toMatch(/^tidepool top {2}http:\/\/127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d {2}1 node, 1 function\n/);
    expect(res.stdout).toMatch(/FUNCTION\s+VER\s+TIER\s+QUEUE\s+RUN\s+SLO 5m\s+REQ 5m\s+TTFT p50 \/ SLO\s+TPOT p50 \/ SLO/);
    expect(res.stdout).toMatch(/tiny-chat\s+v1\s+(gpu|host)\s+0\s+0\s+100\.0%\s+[34]\s+[\d.]+ ms \/ 10\.0 s\s+[\d.]+ ms \/ 100 ms/);
    expect(res.stdout).toContain(`node ${server.node.nodeId}  ready  host pool [`);
    if (server.engine === 'cpu') expect(res.stdout).toMatch(/ {2}gpu 0 .*\[#+=+-*\.*\] {2}weights [\d.]+ MiB {2}kv .* resident: tiny-chat/);
  });

  it('top prints one frame and exits when stdout is not a terminal; --json prints the state', async () => {
    const piped = await tidepool(server.url, ['top', '--interval', '200']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toContain('tiny-chat');
    const json = await tidepool(server.url, ['top', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ nodes: [{ id: server.node.nodeId }], functions: [{ name: 'tiny-chat', attainment: 1 }] });
    expect(JSON.parse(json.stdout).functions[0].invocations5m).toBeGreaterThanOrEqual(3);
    const bad = await tidepool(server.url, ['top', '--interval', '50']);
    expect(bad.stderr).toBe('tidepool: --interval must be a whole number of milliseconds, at least 200, not 50\n');
  });
});
