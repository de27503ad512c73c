import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program.js';
import { runCli, stderrLines } from './run-cli.js';

/** Every command path the program registers, groups and their subcommands alike (`keys`, `keys create`). */
function commandPaths(command: Command, prefix: readonly string[] = []): string[][] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [path, ...commandPaths(sub, path)];
  });
}

/** Runs `tasks` two at a time: each spawns a CLI process, and the machine has few cores. */
async function inPairs<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    [0, 1].map(async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
    }),
  );
}

const program = await buildProgram();

describe('tidepool usage', () => {
  const paths = commandPaths(program);

  it('finds the registered commands, nested ones included', () => {
    const names = paths.map((p) => p.join(' '));
    expect(names).toEqual(expect.arrayContaining(['up', 'deploy', 'ls', 'show', 'invoke', 'rm', 'synth', 'keys revoke', 'cluster status']));
  });

  it('prints usage and exits 0 for --help of every command', { timeout: 180_000 }, async () => {
    await inPairs(paths, async (path) => {
      const command = path.reduce<Command>((parent, name) => parent.commands.find((c) => c.name() === name)!, program);
      const run = await runCli([...path, '--help']);
      const label = `tidepool ${path.join(' ')} --help`;
      expect(run.code, `${label}: ${run.stderr}`).toBe(0);
      expect(run.stderr, label).toBe('');
      expect(run.stdout, label).toMatch(new RegExp(`^Usage: tidepool ${path.join(' ')} `));
      expect(run.stdout.replace(/\s+/g, ' '), label).toContain(command.description().replace(/\s+/g, ' '));
      if (command.commands.length > 0) {
        for (const sub of command.commands) expect(run.stdout, label).toMatch(new RegExp(`^  ${sub.name()}\\b`, 'm'));
      } else {
        expect(run.stdout, label).toContain('--json');
      }
    });
  });

  it('prints the overview on stdout for tidepool alone and for a group without its subcommand', async () => {
    for (const args of [[], ['keys']]) {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^Usage: tidepool/);
    }
  });

  it.each([
    { args: 'deploy', line: "tidepool: missing required argument 'dir' (add --help for usage)" },
    { args: 'ls --bogus', line: "tidepool: unknown option '--bogus' (add --help for usage)" },
    { args: 'depoly functions/tiny-chat', line: "tidepool: unknown command 'depoly' (Did you mean deploy?) (add --help for usage)" },
    { args: 'keys bogus', line: "tidepool: unknown command 'bogus' (add --help for usage)" },
    { args: 'ls extra', line: "tidepool: too many arguments for 'ls'. Expected 0 arguments but got 1. (add --help for usage)" },
    { args: 'synth --out x', line: "tidepool: required option '--shape <name>' not specified (add --help for usage)" },
    { args: 'synth --shape', line: "tidepool: option '--shape <name>' argument missing (add --help for usage)" },
  ])('reports `tidepool $args` in one line', async ({ args, line }) => {
    const run = await runCli(args.split(' '));
    expect(run.code).toBe(1);
    expect(stderrLines(run)).toEqual([line]);
    expect(run.stdout).toBe('');
  });
});
