// CLI start-up: `tidepool --help` and `tidepool ls` against a running platform, each beside bare `node -e 0`
// (the floor: a Node process that does nothing) in the same run, interleaved so a busy machine slows all of
// them alike. The bars (issue 10): --help within 3x bare node, ls under 300 ms. The platform is a real control
// plane (PGlite, filesystem store) over an instant in-process node with tiny-chat deployed: `ls` measures
// the CLI and one API round trip, not an engine.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { buildTinyTokenizer } from '../../platform/models/tiny-tokenizer.js';
import { startE2eServer } from '../e2e/e2e-server.js';
import { instantNode } from './api/instant-node.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tidepool.mjs');
const BARS = { helpOverBare: 3, lsMs: 300 };

interface Stats {
  readonly minMs: number;
  readonly medianMs: number;
  readonly maxMs: number;
}

/**
 * Wall time of one process from spawn to exit, ms; fails the run if the command fails. Asynchronous: the
 * platform `ls` talks to runs in this process, so its event loop must stay free.
 */
function timeOnce(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { minMs: round(sorted[0]!), medianMs: round(sorted[Math.floor(sorted.length / 2)]!), maxMs: round(sorted.at(-1)!) };
}

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  const repeats = args.size === 'tiny' ? 3 : 15;
  const synthDir = await mkdtemp(join(tmpdir(), 'tidepool-cli-bench-'));
  const server = await startE2eServer({ node: instantNode(buildTinyTokenizer().wordTokenIds) });
  const samples: Record<'bare' | 'help' | 'ls', number[]> = { bare: [], help: [], ls: [] };
  const loadBefore = loadavg()[0]!;
  try {
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-chat', synthDir), { progress: false });
    const env = { ...process.env, TIDEPOOL_API_URL: server.url };
    const commands = { bare: ['-e', '0'], help: [BIN, '--help'], ls: [BIN, 'ls'] } as const;
    // One warm-up each (file cache), then the repeats, interleaved.
    for (const command of Object.values(commands)) await timeOnce(command, env);
    for (let i = 0; i < repeats; i++) {
      for (const [name, command] of Object.entries(commands)) samples[name as keyof typeof samples].push(await timeOnce(command, env));
    }
  } finally {
    await server.close();
    await rm(synthDir, { recursive: true, force: true });
  }
  const result = {
    bench: 'cli',
    size: args.size,
    date: new Date().toISOString(),
    device: `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores)`,
    node: process.version,
    repeats,
    loadAverage: { before: loadBefore, after: loadavg()[0]! },
    bare: stats(samples.bare),
    help: stats(samples.help),
    ls: stats(samples.ls),
  };
  const helpRatio = result.help.medianMs / result.bare.medianMs;
  const verdicts = {
    help: { bar: `--help within ${BARS.helpOverBare}x bare node (medians)`, ratio: Math.round(helpRatio * 100) / 100, met: helpRatio <= BARS.helpOverBare },
    ls: { bar: `ls under ${BARS.lsMs} ms (median)`, met: result.ls.medianMs < BARS.lsMs },
  };
  console.log(`device: ${result.device}, node ${result.node}, load average ${loadBefore.toFixed(1)} -> ${result.loadAverage.after.toFixed(1)}`);
  console.table({ 'node -e 0 (anchor, the floor)': result.bare, 'tidepool --help': result.help, 'tidepool ls': result.ls });
  console.log(
    `--help / bare node: ${verdicts.help.ratio}x (bar ${BARS.helpOverBare}x: ${verdicts.help.met ? 'met' : 'missed'}); ls median ${result.ls.medianMs} ms (bar ${BARS.lsMs} ms: ${verdicts.ls.met ? 'met' : 'missed'})`,
  );
  await mkdir(args.outDir, { recursive: true });
  await writeFile(join(args.outDir, `cli-${args.size}.json`), `${JSON.stringify({ ...result, verdicts }, null, 2)}\n`);
}
