import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startUp, type UpProcess } from '../chaos/up-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { ENGINE_BIN, ENGINE_BUILT } from './e2e-server.js';
import { ROOT } from './run-cli.js';

if (!ENGINE_BUILT) console.log(`skip: the README tour needs the engine binary at ${ENGINE_BIN} (build it with npm install)`);

/** The `$ ` commands of the README's tour, in order, with their continuation lines and heredocs. */
export function tourCommands(readme: string): string[] {
  const tour = readme.slice(readme.indexOf('## A 60-second tour'), readme.indexOf('## How it fits together'));
  const lines = tour.split('\n');
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('$ ')) continue;
    const command = [lines[i]!.slice(2)];
    const heredoc = /<<'(\w+)'/.exec(command[0]!)?.[1];
    while (command.at(-1)!.endsWith('\\') || (heredoc !== undefined && command.at(-1) !== heredoc)) command.push(lines[++i]!);
    commands.push(command.join('\n'));
  }
  return commands;
}

// Every command of the README's tour, run as written against a running `npm start` (`tidepool up` on the
// data directory the CLI looks in). Two substitutions keep it light: the 1 GB qwen2.5-0.5b shape becomes
// tiny (the same synth, deploy and invoke steps) and /tmp paths become a temporary directory.
describe.skipIf(!ENGINE_BUILT)('the README tour', () => {
  let work: Awaited<ReturnType<typeof makeTempDir>>;
  let up: UpProcess;
  beforeAll(async () => {
    work = await makeTempDir('tidepool-tour');
    up = await startUp({ dataDir: join(work.dir, '.tidepool'), shmRoot: join(work.dir, 'shm') });
  }, 180_000);
  afterAll(async () => {
    if (up) await up.stop();
    await work?.remove();
  });

  it('runs every command as written, finding the platform without TIDEPOOL_API_URL', { timeout: 300_000 }, async () => {
    const commands = tourCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const command of commands) {
      const script = command
        .replaceAll('npx tidepool', `node ${BIN}`)
        .replaceAll('http://127.0.0.1:8080', up.url)
        .replaceAll('--shape qwen2.5-0.5b', '--shape tiny')
        .replaceAll('/tmp/', `${work.dir}/`);
      // Only what a fresh shell has: no TIDEPOOL_API_URL or TIDEPOOL_PORT; the data directory is the one in use.
      const run = await sh(script, { TIDEPOOL_DATA_DIR: up.dataDir, TIDEPOOL_ENGINE_BIN: ENGINE_BIN });
      expect(run.code, `${command}\n${run.stderr}`).toBe(0);
      if (command.startsWith('curl')) expect(JSON.parse(run.stdout)).toMatchObject({ object: 'chat.completion', choices: [{ finish_reason: 'length' }] });
      console.log(`$ ${command.split('\n')[0]}  -> exit 0`);
    }
  });
});

function sh(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    for (const name of ['TIDEPOOL_API_URL', 'TIDEPOOL_PORT', 'TIDEPOOL_API_KEY']) delete childEnv[name];
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
