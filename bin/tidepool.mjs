#!/usr/bin/env node
// The `tidepool` command: runs the CLI compiled into dist/cli (`npm install` builds it; so does
// `npm run build:cli`). A checkout that was never built runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
