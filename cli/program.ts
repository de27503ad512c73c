import { Command, Help } from 'commander';

/**
 * A command as the program knows it before its module is loaded: the name and description the overview
 * prints, its term there (`deploy [options] <dir>`), and how to load the module that adds its arguments,
 * options and action. Only the command being run is loaded, so `tidepool ls` never imports the control plane.
 */
interface CommandEntry {
  readonly name: string;
  /** How the overview lists it: name, `[options]` when it has any, its arguments. */
  readonly term: string;
  readonly description: string;
  readonly load: () => Promise<(command: Command) => void>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'up',
    term: 'up [options]',
    description: 'run Tidepool locally: control plane and a node in one process (PGlite, filesystem store, CPU or CUDA engine)',
    load: async () => (await import('./commands/up.js')).registerUp,
  },
  {
    name: 'serve',
    term: 'serve [options]',
    description: 'run the control plane alone (cluster mode): PostgreSQL via DATABASE_URL, S3 or filesystem store, nodes register with it',
    load: async () => (await import('./commands/serve.js')).registerServe,
  },
  {
    name: 'node',
    term: 'node [options]',
    description: 'run a node runtime alone (cluster mode): engine and host pool behind an internal API, registered with a control plane',
    load: async () => (await import('./commands/node.js')).registerNode,
  },
  {
    name: 'cluster',
    term: 'cluster',
    description: 'inspect a cluster-mode installation',
    load: async () => (await import('./commands/cluster.js')).registerCluster,
  },
  {
    name: 'deploy',
    term: 'deploy [options] <dir>',
    description: 'validate a function folder, upload its missing blobs and register a new active version',
    load: async () => (await import('./commands/deploy.js')).registerDeploy,
  },
  { name: 'ls', term: 'ls [options]', description: 'list deployed functions', load: async () => (await import('./commands/ls.js')).registerLs },
  {
    name: 'show',
    term: 'show [options] <fn>',
    description: 'show a function: versions, size and where its weights are resident',
    load: async () => (await import('./commands/show.js')).registerShow,
  },
  {
    name: 'logs',
    term: 'logs [options] <fn>',
    description: "recent invocations of a function: time, status, tokens, TTFT and TPOT (marked ! when over the function's SLO), node",
    load: async () => (await import('./commands/logs.js')).registerLogs,
  },
  {
    name: 'top',
    term: 'top [options]',
    description: 'live view of the pool: per function tier, queue, running, SLO attainment and latency; per node and GPU the memory split',
    load: async () => (await import('./commands/top.js')).registerTop,
  },
  {
    name: 'invoke',
    term: 'invoke [options] <fn> <prompt>',
    description: 'run a function on a prompt, streaming tokens to the terminal',
    load: async () => (await import('./commands/invoke.js')).registerInvoke,
  },
  {
    name: 'rm',
    term: 'rm [options] <fn>',
    description: 'delete a function and all its versions (blobs stay in the store)',
    load: async () => (await import('./commands/rm.js')).registerRm,
  },
  {
    name: 'keys',
    term: 'keys',
    description: 'manage API keys (admin: deploy and manage; invoke: call functions)',
    load: async () => (await import('./commands/keys.js')).registerKeys,
  },
  {
    name: 'gc',
    term: 'gc [options]',
    description: 'delete stored blobs that no function version references and that are older than --min-age, and files crashed processes left (admin key)',
    load: async () => (await import('./commands/gc.js')).registerGc,
  },
  {
    name: 'synth',
    term: 'synth [options]',
    description: 'write a random-weight model of a real shape (deterministic from the seed)',
    load: async () => (await import('./commands/synth.js')).registerSynth,
  },
  {
    name: 'plan',
    term: 'plan [options]',
    description: 'capacity planning on the simulator: fewest GPUs per policy for an SLO, goodput, models per GPU',
    load: async () => (await import('./commands/plan.js')).registerPlan,
  },
];

/**
 * `tidepool <command>`: every command has --help and --json. With `argv`, only the command it names is
 * loaded (the rest are listed by name and description); without, every command is (the usage test walks
 * them all). Commander's own usage errors are not printed here: they surface as `CommanderError`s, and main
 * turns each into the one line `tidepool: <reason>`.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
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
  // `tidepool help <command>` shows that command's help, so it is the one loaded.
  const words = argv?.filter((arg) => !arg.startsWith('-')) ?? [];
  const wanted = words[0] === 'help' ? words[1] : words[0];
  const loaded = await Promise.all(COMMANDS.map(async (entry) => (argv === undefined || entry.name === wanted ? await entry.load() : undefined)));
  COMMANDS.forEach((entry, i) => {
    const command = program.command(entry.name).description(entry.description);
    loaded[i]?.(command);
  });
  // Set after the commands exist, so only the overview uses it (subcommands copy settings when created).
  const defaults = new Help();
  program.configureHelp({ subcommandTerm: (command) => COMMANDS.find((e) => e.name === command.name())?.term ?? defaults.subcommandTerm(command) });
  return program;
}
