import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { deployFunction } from '../deploy-function.js';
import { prepareFunctionDir } from '../function-dir.js';
import { formatBytes, printJson } from '../output.js';

/** Where the CLI caches synthesized weights: the local data directory. */
export function cacheRoot(): string {
  return resolve(process.env.TIDEPOOL_DATA_DIR ?? '.tidepool');
}

export function registerDeploy(command: Command): void {
  command
    .argument('<dir>', 'function folder holding function.yaml')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const log = opts.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
      const fn = await prepareFunctionDir(dir, cacheRoot(), log);
      const outcome = await deployFunction(createApiClient(), fn, { progress: !opts.json && process.stderr.isTTY === true });
      // `--json` is published (docs/cli.md): the weights digest keeps its name `artifactDigest` there.
      if (opts.json) {
        const { name, version, weightsDigest, ...counts } = outcome;
        return printJson({ name, version, artifactDigest: weightsDigest, ...counts });
      }
      console.log(
        `deployed ${outcome.name} v${outcome.version} (${formatBytes(outcome.sizeBytes)}, ${outcome.uploaded} blob(s) uploaded, ${outcome.skipped} already stored) ${outcome.weightsDigest}`,
      );
    });
}
