import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, buildProgram } from '../../../cli/program.js';

describe('the CLI program', () => {
  it('lists each command in the overview with the term and description its loaded definition has', async () => {
    const program = await buildProgram();
    const help = new Help();
    for (const entry of COMMANDS) {
      const command = program.commands.find((c) => c.name() === entry.name)!;
      expect(help.subcommandTerm(command), entry.name).toBe(entry.term);
      expect(command.description()).toBe(entry.description);
    }
  });

  it('loads only the command being run', async () => {
    const program = await buildProgram(['ls', '--json']);
    const withAction = program.commands.filter((c) => c.options.length > 0 || c.commands.length > 0).map((c) => c.name());
    expect(withAction).toEqual(['ls']);
    const help = await buildProgram(['help', 'show']);
    expect(help.commands.filter((c) => c.options.length > 0).map((c) => c.name())).toEqual(['show']);
  });
});
