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
      printWelcome(local.url, local.node.backend, functions);
    });
}

function printWelcome(url: string, backend: string, functions: readonly string[]): void {
  const fn = functions.includes('tiny-chat') ? 'tiny-chat' : (functions[0] ?? '<function>');
  console.log(`Tidepool is up at ${url} (engine: ${backend}); functions: ${functions.join(', ') || 'none'}

Try it:
  curl ${url}/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"${fn}","messages":[{"role":"user","content":"Hello"}],"max_tokens":32}'

Or with the OpenAI client (Node):
  import OpenAI from 'openai';
  const client = new OpenAI({ baseURL: '${url}/v1', apiKey: 'unused' });
  const r = await client.chat.completions.create({ model: '${fn}', messages: [{ role: 'user', content: 'Hello' }] });
  console.log(r.choices[0].message.content);

Press Ctrl-C to stop.`);
}
