import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The installation's root: the nearest folder above this module whose package.json is Tidepool's. The
 * sources (`platform/config.ts`) and the compiled CLI (`dist/cli/chunks/...`) both find it, so paths into
 * the install (the engine binary, the examples, the dashboard bundle, `../shared`) resolve the same from either.
 */
export function installRoot(): string {
  if (cached !== undefined) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'tidepool') return (cached = dir);
    if (dirname(dir) === dir) throw new Error(`no Tidepool package.json above ${fileURLToPath(import.meta.url)}`);
  }
}
