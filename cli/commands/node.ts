import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { startNode } from '../cluster-mode.js';
import { configFrom } from './serve.js';
import { processLogger } from '../process-logger.js';

export function registerNode(command: Command): void {
  command
    .requiredOption('--control-plane <url>', 'control plane URL the node registers with, e.g. http://10.0.0.5:8080')
    .option('--port <n>', 'port of the node API (overrides TIDEPOOL_NODE_PORT)')
    .option('--json', 'print the node id and address as one JSON line once registered')
    .action(async (opts: { controlPlane: string; port?: string; json?: boolean }) => {
      if (!/^https?:\/\//.test(opts.controlPlane)) throw new CliError(`--control-plane must be an http(s) URL, got "${opts.controlPlane}"`);
      const config = configFrom({ ...process.env, ...(opts.port !== undefined ? { TIDEPOOL_NODE_PORT: opts.port } : {}) });
      const log = processLogger(config, 'cluster');
      const fatal = (error: Error) => {
        log.error(`tidepool: ${error.message}`);
        void mode?.close().finally(() => process.exit(1));
      };
      let mode: Awaited<ReturnType<typeof startNode>> | undefined;
      mode = await startNode(config, opts.controlPlane, log, fatal).catch((error: Error) => {
        throw error instanceof CliError ? error : new CliError(`could not start: ${error.message}`);
      });
      const started = mode;
      // Refuse new generations (the router retries them elsewhere), report `draining`, let in-flight ones
      // finish up to TIDEPOOL_SHUTDOWN_GRACE_MS, stop the engine, exit 0. A second signal ends it at once.
      const shutdown = (signal: NodeJS.Signals) => {
        log.info(`${signal}: draining (in-flight generations get up to ${config.shutdownGraceMs} ms)`);
        void started.shutdown(config.shutdownGraceMs).then(() => {
          log.info('shutdown complete');
          process.exit(0);
        });
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      await started.agent.registered.catch((error: Error) => {
        throw new CliError(error.message);
      });
      const line = { node: started.node.nodeId, address: started.address, backend: started.node.backend, control_plane: opts.controlPlane };
      if (opts.json) return console.log(JSON.stringify(line));
      console.log(`node ${line.node} (engine: ${line.backend}) at ${line.address}, registered with ${opts.controlPlane}`);
    });
}
