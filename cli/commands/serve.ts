import type { Command } from 'commander';
import { ConfigError, loadConfig, type TidepoolConfig } from '../../platform/config.js';
import { CliError } from '../cli-error.js';
import { startServe } from '../cluster-mode.js';
import { processLogger } from '../process-logger.js';

export function registerServe(command: Command): void {
  command
    .option('--port <n>', 'port to listen on (overrides TIDEPOOL_PORT)')
    .option('--json', 'print the address as one JSON line when ready')
    .action(async (opts: { port?: string; json?: boolean }) => {
      const config = configFrom({ ...process.env, ...(opts.port !== undefined ? { TIDEPOOL_PORT: opts.port } : {}) });
      const log = processLogger(config, 'cluster');
      const serve = await startServe(config, log).catch((error: Error) => {
        throw error instanceof CliError ? error : new CliError(`could not start: ${error.message}`);
      });
      // As `tidepool up`: stop admission (503), drain in-flight streams up to TIDEPOOL_SHUTDOWN_GRACE_MS, flush
      // invocation records, close the database, exit 0. A second signal ends the process at once.
      const shutdown = (signal: NodeJS.Signals) => {
        log.info(`${signal}: shutting down (draining in-flight requests for up to ${config.shutdownGraceMs} ms)`);
        void serve.shutdown(config.shutdownGraceMs).then(() => {
          log.info('shutdown complete');
          process.exit(0);
        });
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      if (opts.json) return console.log(JSON.stringify({ url: serve.url, database: serve.database.kind }));
      console.log(`Tidepool control plane at ${serve.url}; waiting for nodes (tidepool node --control-plane ${serve.url})`);
    });
}

export function configFrom(env: Readonly<Record<string, string | undefined>>): TidepoolConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.problems.join('; '));
    throw error;
  }
}
