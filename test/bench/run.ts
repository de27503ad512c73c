// `npm run bench -- <name|all> [--size tiny|full] [--out <dir>]`: runs benchmarks from test/bench/<name>.bench.ts.
// A benchmark prints its table and writes JSON under test/bench/results/ (the committed results), or under
// `--out` (CI's smoke run, which must not touch the committed files); it never fails for being slow.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface BenchModule {
  default(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''));

function parseArgs(argv: readonly string[]): { names: string[]; size: 'tiny' | 'full'; outDir: string } {
  const sizeIndex = argv.indexOf('--size');
  const size = sizeIndex >= 0 ? argv[sizeIndex + 1] : 'full';
  if (size !== 'tiny' && size !== 'full') throw new Error(`--size must be tiny or full, got ${size}`);
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1] : join(here, 'results');
  if (out === undefined || out === '' || out.startsWith('--')) throw new Error('--out needs a directory');
  const positional = argv.filter((arg, i) => !arg.startsWith('--') && argv[i - 1] !== '--size' && argv[i - 1] !== '--out');
  const names = positional.length === 0 || positional.includes('all') ? available : positional;
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  return { names, size, outDir: resolve(out) };
}

async function main(): Promise<void> {
  const { names, size, outDir } = parseArgs(process.argv.slice(2));
  for (const name of names) {
    console.log(`\n=== bench ${name} (size ${size}) ===`);
    const module = (await import(join(here, `${name}.bench.ts`))) as BenchModule;
    await module.default({ size, outDir });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
