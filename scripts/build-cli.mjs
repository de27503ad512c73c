#!/usr/bin/env node
// Compiles the `tidepool` CLI (cli/main.ts and everything it imports from cli/, platform/, runtime/ and
// protocol/) into dist/cli with esbuild: ESM for Node 20, npm packages left as imports, one chunk per
// command (each is loaded with a dynamic import when it runs), source maps beside them. bin/tidepool.mjs
// runs the result. Runs on `npm install` (package.json `prepare`), in `npm test` and before vitest, so what
// runs is what the sources say; after editing sources by hand, `npm run build:cli` (about a second).
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const outDir = join(root, 'dist', 'cli');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.log('tidepool cli: not compiled (esbuild is not installed); bin/tidepool.mjs runs the sources with tsx instead');
  process.exit(0);
}

/**
 * Builds into a fresh folder and swaps it in, so a CLI started meanwhile (tests spawn it while another run
 * rebuilds) finds either the old build or the new one, or for a moment none (and then runs the sources).
 */
export async function buildCli() {
  const building = `${outDir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const started = performance.now();
  const result = await esbuild.build({
    entryPoints: { main: join(root, 'cli', 'main.ts') },
    outdir: building,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    metafile: true,
  });
  // Marks the folder as ESM whatever the nearest package.json says, and records what was built.
  writeFileSync(join(building, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
  const old = `${outDir}.old-${process.pid}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(building, outDir);
  rmSync(old, { recursive: true, force: true });
  const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length;
  return { files, ms: Math.round(performance.now() - started) };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    const { files, ms } = await buildCli();
    console.log(`tidepool cli: compiled into dist/cli (${files} files, ${ms} ms)`);
  } catch (error) {
    console.error(`tidepool cli: compile failed: ${error.message}`);
    process.exit(1);
  }
}
