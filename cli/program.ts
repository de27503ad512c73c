import { Command } from 'commander';
import { registerCluster } from './commands/cluster.js';
import { registerDeploy } from './commands/deploy.js';
import { registerGc } from './commands/gc.js';
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

/**
 * `tidepool <command>`: every command has --help and --json. Commander's own usage errors are not printed
 * here: they surface as `CommanderError`s, and main turns each into the one line `tidepool: <reason>`.
 */
export function buildProgram(): Command {
  // Output settings and exitOverride are copied into each subcommand when it is created, so they come first.
  const program = new Command('tidepool')
    .description('Serverless LLM functions on shared GPUs. API: $TIDEPOOL_API_URL (default http://127.0.0.1:8080)')
    .version('0.1.0')
    .configureOutput({
      outputError: () => {},
      // The one other thing commander writes to stderr is the help of a command group named without a
      // subcommand (`tidepool`, `tidepool keys`): that is a request for orientation, so it goes to stdout.
      writeErr: (text) => process.stdout.write(text),
    })
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
  registerGc(program);
  registerSynth(program);
  registerPlan(program);
  return program;
}
