import type { Command } from 'commander';
import { MODEL_SHAPES } from '../../platform/models/shapes.js';
import { synthesizeModel } from '../../platform/models/synth.js';
import { CliError } from '../cli-error.js';
import { printJson } from '../output.js';

export function registerSynth(command: Command): void {
  command
    .requiredOption('--shape <name>', `model shape: ${Object.keys(MODEL_SHAPES).join(', ')}`)
    .option('--seed <n>', 'random seed', '0')
    .option('--dtype <dtype>', "F32, F16 or BF16 (default: the shape's own)")
    .requiredOption('--out <dir>', 'output folder')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { shape: string; seed: string; dtype?: string; out: string; json?: boolean }) => {
      const seed = Number(opts.seed);
      // Digits only: Number() would also take '', ' 3' and '0x10'.
      if (!/^[0-9]+$/.test(opts.seed) || !Number.isSafeInteger(seed)) throw new CliError(`--seed: ${opts.seed} is not a non-negative integer`);
      const dtype = opts.dtype?.toUpperCase();
      if (dtype !== undefined && dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new CliError(`--dtype: ${opts.dtype} is not F32, F16 or BF16`);
      if (!MODEL_SHAPES[opts.shape]) throw new CliError(`--shape: unknown shape ${opts.shape} (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
      const result = await synthesizeModel({ shape: opts.shape, seed, outDir: opts.out, ...(dtype ? { dtype } : {}) });
      if (opts.json) return printJson(result);
      console.log(`wrote ${opts.shape} (seed ${seed}) to ${opts.out}`);
    });
}
