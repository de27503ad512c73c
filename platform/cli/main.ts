import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import { registerCluster } from './commands/cluster.js';
import { registerDeploy } from './commands/deploy.js';
import { registerInvoke } from './commands/invoke.js';
import { registerKeys } from './commands/keys.js';
import { registerLogs } from './commands/logs.js';
import { registerLs } from './commands/ls.js';
import { registerNode } from './commands/node.js';
import { registerPlan } from './commands/plan.js';
import { registerRm } from './commands/rm.js';
import { registerServe } from './commands/serve.js';
import { registerShow } from './commands/show.js';
import { registerSynth } from './commands/synth.js';
import { registerTop } from './commands/top.js';
import { registerUp } from './commands/up.js';

/** `tidepool <command>`: every command has --help and --json and fails with one line and a non-zero exit. */
export function buildProgram(): Command {
  const program = new Command('tidepool')
    .description('Serverless LLM functions on shared GPUs. API: $TIDEPOOL_API_URL (default http://127.0.0.1:8080)')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerUp(program);
  registerServe(program);
  registerNode(program);
  registerCluster(program);
  registerDeploy(program);
  registerLs(program);
  registerShow(program);
  registerLogs(program);
  registerTop(program);
  registerInvoke(program);
  registerRm(program);
  registerKeys(program);
  registerSynth(program);
  registerPlan(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
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
