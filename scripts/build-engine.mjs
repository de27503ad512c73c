#!/usr/bin/env node
// Builds the engine (cuda/) with CMake: `cmake -S cuda -B cuda/build` then `cmake --build cuda/build -j2`.
// Runs on `npm install` (package.json `prepare`), so it stays quiet: CMake's own output is shown only when
// a step fails. CMake skips work that is up to date. Prints one line naming the backends and the binary.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sourceDir = join(root, 'cuda');
const buildDir = join(sourceDir, 'build');
const binary = join(buildDir, 'tidepool-engine');
const jobs = process.env.TIDEPOOL_BUILD_JOBS ?? '2';

function fail(message) {
  console.error(`tidepool engine build: ${message}`);
  process.exit(1);
}

function have(command) {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

function run(args) {
  const result = spawnSync('cmake', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) fail(`cmake could not start: ${result.error.message}`);
  if (result.status !== 0) {
    process.stderr.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
    fail(`\`cmake ${args.join(' ')}\` failed (exit ${result.status})`);
  }
}

if (!have('cmake')) fail('cmake not found; install CMake >= 3.18 (Debian/Ubuntu: apt-get install cmake)');
const compiler = process.env.CXX ?? 'g++';
if (!have(compiler) && !have('c++')) fail(`no C++17 compiler found (${compiler}); install g++ (apt-get install g++)`);

// Configure every time (cheap once cached): it notices a backend directory that appeared since the last run.
run(['-S', sourceDir, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release']);
run(['--build', buildDir, '-j', jobs]);

const backendsFile = join(buildDir, 'backends.txt');
const backends = existsSync(backendsFile) ? readFileSync(backendsFile, 'utf8').trim() : 'cpu';
if (!existsSync(binary)) fail(`build finished but ${binary} is missing`);
console.log(`tidepool engine: backends ${backends} -> ${binary}`);
