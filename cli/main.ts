import { CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import { buildProgram } from './program.js';

/**
 * Commander's usage errors (`error: unknown command 'depoly'` then `(Did you mean deploy?)` on a second line)
 * as one line without its `error: ` prefix, ending with where usage is found.
 */
export function usageErrorLine(error: CommanderError): string {
  const reason = error.message
    .replace(/^error: /, '')
    .split('\n')
    .map((part) => part.trim())
    .filter(Boolean)
    .join(' ');
  return `${reason} (add --help for usage)`;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, --version, and a command group's help shown for a group named without a subcommand.
      if (error.exitCode === 0 || error.code === 'commander.help') return 0;
      process.stderr.write(`tidepool: ${usageErrorLine(error)}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tidepool: ${message.split('\n').join(' ')}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

// A reader that closes early (`tidepool ls | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await main(process.argv.slice(2));
// `up`, `serve` and `node` keep serving until a signal; every other command ends here.
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (code !== 0 || !['up', 'serve', 'node'].includes(command ?? '')) process.exitCode = code;
