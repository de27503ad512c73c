#!/usr/bin/env node
// Builds the engine (cuda/) with CMake: `cmake -S cuda -B cuda/build` then `cmake --build cuda/build -j2`.
// Runs on `npm install` (package.json `prepare`). CMake's own output is shown only when a step fails; what
// shows meanwhile is one line per step and progress lines (every 10% of the build, and at least every 30 s
// with the step being compiled), so a first build, minutes of nvcc, never looks stuck. CMake skips work that
// is up to date. Ends with one line naming the backends and the binary.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sourceDir = join(root, 'cuda');
const buildDir = join(sourceDir, 'build');
const binary = join(buildDir, 'tidepool-engine');
const jobs = process.env.TIDEPOOL_BUILD_JOBS ?? '2';
const HEARTBEAT_MS = 30_000;
const startedAt = Date.now();

function say(message) {
  console.error(`tidepool engine: ${message}`);
}

function fail(message) {
  say(message);
  process.exit(1);
}

function have(command) {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

const elapsed = () => `${Math.round((Date.now() - startedAt) / 1000)} s`;

/** What a CMake/make output line says it is doing, shortened: `Building CUDA object ... gemm.cu.o` → `gemm.cu`. */
function stepOf(line) {
  const match = /Building (\w+) object .*\/([^/]+?)\.o$/.exec(line) ?? /Linking \w+ (?:static library|executable) (\S+)/.exec(line);
  if (!match) return undefined;
  return match.length === 3 ? `${match[2]} (${match[1]})` : `linking ${match[1]}`;
}

/** Runs cmake, reporting progress from its `[ 42%]` lines; resolves with all its output for a failure report. */
function run(args, { progress }) {
  return new Promise((resolve) => {
    const child = spawn('cmake', args, { cwd: root });
    let output = '';
    let lastTenth = -1;
    let percent = 0;
    let step = '';
    let pending = '';
    const heartbeat = setInterval(() => say(`still building: ${percent}% after ${elapsed()}${step ? `, now ${step}` : ''}`), HEARTBEAT_MS);
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (!progress) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const pct = /^\[\s*(\d+)%\]/.exec(line);
        if (pct) percent = Number(pct[1]);
        const current = stepOf(line);
        if (current) step = current;
        const tenth = Math.floor(percent / 10);
        // Only steps that compile or link count: an up-to-date build prints its percentages too.
        if (current && tenth > lastTenth) {
          lastTenth = tenth;
          say(`building ${percent}% (${elapsed()})${step ? `: ${step}` : ''}`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => {
      clearInterval(heartbeat);
      fail(`cmake could not start: ${error.message}`);
    });
    child.on('close', (code) => {
      clearInterval(heartbeat);
      if (code === 0) return resolve();
      process.stderr.write(output);
      fail(`\`cmake ${args.join(' ')}\` failed (exit ${code})`);
    });
  });
}

if (!have('cmake')) fail('cmake not found; install CMake >= 3.18 (Debian/Ubuntu: apt-get install cmake)');
const compiler = process.env.CXX ?? 'g++';
if (!have(compiler) && !have('c++')) fail(`no C++17 compiler found (${compiler}); install g++ (apt-get install g++)`);

// Configure every time (cheap once cached): it notices a backend directory that appeared since the last run.
const fresh = !existsSync(join(buildDir, 'CMakeCache.txt'));
say(`configuring with CMake${fresh ? ' (first build: several minutes, most of it nvcc when CUDA is found)' : ''}`);
await run(['-S', sourceDir, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'], { progress: false });
const planned = existsSync(join(buildDir, 'backends.txt')) ? readFileSync(join(buildDir, 'backends.txt'), 'utf8').trim() : 'cpu';
say(`compiling backends ${planned} with ${jobs} jobs`);
await run(['--build', buildDir, '-j', jobs], { progress: true });

const backends = existsSync(join(buildDir, 'backends.txt')) ? readFileSync(join(buildDir, 'backends.txt'), 'utf8').trim() : 'cpu';
if (!existsSync(binary)) fail(`build finished but ${binary} is missing`);
console.log(`tidepool engine: backends ${backends} -> ${binary} (${elapsed()})`);
