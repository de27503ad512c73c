import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../platform/config.js';
import { CliError } from '../cli-error.js';
import { createApiClient, deployExamples, startLocalMode } from '../local-mode.js';
import { printProgress, processLogger } from '../process-logger.js';

export function registerUp(command: Command): void {
  command
    .option('--port <n>', 'port to listen on (overrides TIDEPOOL_PORT)')
    .option('--no-examples', 'do not deploy the example functions')
    .option('--json', 'print the address and deployed examples as one JSON line when ready')
    .action(async (opts: { port?: string; examples: boolean; json?: boolean }) => {
      const env = { ...process.env, ...(opts.port !== undefined ? { TIDEPOOL_PORT: opts.port } : {}) };
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.problems.join('; '));
        throw error;
      }
      const log = processLogger(config, 'local');
      const local = await startLocalMode(config, log).catch((error: Error) => {
        throw new CliError(`could not start: ${error.message}`);
      });
      // Stop admission (503), drain in-flight streams up to TIDEPOOL_SHUTDOWN_GRACE_MS, flush invocation
      // records, stop the engine, close the database, exit 0. A second signal ends the process at once.
      const shutdown = (signal: NodeJS.Signals) => {
        log.info(`${signal}: shutting down (draining in-flight requests for up to ${config.shutdownGraceMs} ms)`);
        void local.close().then(() => {
          log.info('shutdown complete');
          process.exit(0);
        });
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      // The process's own in-memory admin key: works whether or not keys exist.
      const api = createApiClient({ baseUrl: local.url, apiKey: local.plane.keys.processKey });
      const examples = config.deployExamples && opts.examples ? await deployExamples(api, config.dataDir, printProgress) : [];
      const functions = (await api.json<{ data: { name: string }[] }>('GET', '/v1/functions')).data.map((f) => f.name);
      if (opts.json) return console.log(JSON.stringify({ url: local.url, backend: local.node.backend, database: local.database.kind, examples, functions }));
      console.log(welcomeText(local.url, local.node.backend, functions, !(await local.plane.keys.isOpen())));
    });
}

/**
 * What `up` prints once ready. With API keys in use (`TIDEPOOL_API_KEY`, or a stored key) the examples send
 * `$TIDEPOOL_API_KEY`, since a request without a key then gets 401.
 */
export function welcomeText(url: string, backend: string, functions: readonly string[], keysInUse: boolean): string {
  const fn = functions.includes('tiny-chat') ? 'tiny-chat' : (functions[0] ?? '<function>');
  const auth = keysInUse ? ` -H "Authorization: Bearer $TIDEPOOL_API_KEY"` : '';
  const apiKey = keysInUse ? 'process.env.TIDEPOOL_API_KEY' : `'unused'`;
  const keyNote = keysInUse ? '\nAPI keys are in use: set TIDEPOOL_API_KEY to a key (tidepool keys create --scope invoke) for these.\n' : '';
  return `Tidepool is up at ${url} (engine: ${backend}); functions: ${functions.join(', ') || 'none'}
${keyNote}
Try it:
  curl ${url}/v1/chat/completions -H 'Content-Type: application/json'${auth} \\
    -d '{"model":"${fn}","messages":[{"role":"user","content":"Hello"}],"max_tokens":32}'

Or with the OpenAI client (Node):
  import OpenAI from 'openai';
  const client = new OpenAI({ baseURL: '${url}/v1', apiKey: ${apiKey} });
  const r = await client.chat.completions.create({ model: '${fn}', messages: [{ role: 'user', content: 'Hello' }] });
  console.log(r.choices[0].message.content);

Press Ctrl-C to stop.`;
}
