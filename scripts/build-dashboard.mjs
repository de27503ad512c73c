#!/usr/bin/env node
// Bundles the dashboard (dashboard/src, Preact + TypeScript) into dashboard/dist with esbuild; the control
// plane serves that folder at /dashboard. Runs on `npm install` (package.json `prepare`), so it prints one
// line. Without esbuild (an install that left out devDependencies) it says so and exits 0: the API works
// without the dashboard, and /dashboard then answers 503 naming this script.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sourceDir = join(root, 'dashboard');
const outDir = join(sourceDir, 'dist');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.log('tidepool dashboard: not built (esbuild is not installed; run `npm install` with devDependencies)');
  process.exit(0);
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
try {
  const result = await esbuild.build({
    entryPoints: { app: join(sourceDir, 'src', 'main.tsx') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
  });
  copyFileSync(join(sourceDir, 'index.html'), join(outDir, 'index.html'));
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => !file.endsWith('.map'))
    .reduce((sum, [, out]) => sum + out.bytes, 0);
  console.log(`tidepool dashboard: built ${outDir} (${(bytes / 1024).toFixed(1)} KiB)`);
} catch (error) {
  for (const message of error.errors ?? []) {
    const at = message.location ? `${message.location.file}:${message.location.line}:${message.location.column}: ` : '';
    console.error(`${at}${message.text}`);
  }
  console.error(`tidepool dashboard build failed: ${error.errors ? `${error.errors.length} error(s)` : error.message}`);
  process.exit(1);
}
