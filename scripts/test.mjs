#!/usr/bin/env node
// The one test command (`npm test`): builds the engine if needed, runs the engine's ctest suite, the
// offline CUDA checks (warnings, spills, tensor-core SASS), the TypeScript type check, the import-graph check,
// the linter, the format check, the Terraform checks and the vitest suite, then prints one closing line that sums them:
// "Tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const totals = { passed: 0, failed: 0, skipped: 0 };
// Every failure by name, repeated just above the closing line so a log's tail says what broke.
const failures = [];
const extraVitestArgs = process.argv.slice(2);

function run(command, args, options = {}) {
  console.log(`\n$ ${[command, ...args].join(' ')}`);
  return spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
}

function step(name, fn) {
  const ok = fn();
  if (ok) totals.passed += 1;
  else {
    totals.failed += 1;
    failures.push(`${name} failed`);
    console.error(`✗ ${name} failed`);
  }
}

function buildEngine() {
  return run(process.execPath, ['scripts/build-engine.mjs']).status === 0;
}

// ctest's own summary line ("100% tests passed, 0 tests failed out of N") is read for its counts.
function runCtest() {
  if (!existsSync(join(root, 'cuda/build/CTestTestfile.cmake'))) {
    console.log('skip: ctest (engine build directory missing)');
    totals.skipped += 1;
    return;
  }
  console.log('\n$ ctest --test-dir cuda/build --output-on-failure');
  const result = spawnSync('ctest', ['--test-dir', 'cuda/build', '--output-on-failure'], { cwd: root, encoding: 'utf8' });
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  const match = /tests passed, (\d+) tests failed out of (\d+)/.exec(result.stdout ?? '');
  if (!match) {
    totals.failed += 1;
    failures.push('ctest printed no summary');
    return;
  }
  for (const line of (result.stdout ?? '').split('\n')) {
    const failedTest = /^\s*\d+ - (\S+) \((Failed|SEGFAULT|Timeout|Subprocess aborted|Exception)/.exec(line);
    if (failedTest) failures.push(`ctest ${failedTest[1]}: ${failedTest[2]}`);
  }
  const failed = Number(match[1]);
  const skipped = (result.stdout.match(/\*\*\*Skipped|Not Run|\bSKIP(PED)?\b/g) ?? []).length;
  totals.failed += failed;
  totals.passed += Number(match[2]) - failed - skipped;
  totals.skipped += skipped;
}

function runVitest() {
  const reportDir = mkdtempSync(join(tmpdir(), 'tidepool-vitest-'));
  const report = join(reportDir, 'report.json');
  const result = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extraVitestArgs]);
  if (!existsSync(report)) {
    totals.failed += 1;
    failures.push('vitest wrote no report');
    return;
  }
  const summary = JSON.parse(readFileSync(report, 'utf8'));
  for (const file of summary.testResults ?? []) {
    const relative = file.name.startsWith(root) ? file.name.slice(root.length) : file.name;
    for (const test of file.assertionResults ?? []) {
      if (test.status !== 'failed') continue;
      const reason = (test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 300);
      failures.push(`${relative} > ${test.fullName}: ${reason}`);
    }
    if (file.status === 'failed' && (file.assertionResults ?? []).every((t) => t.status !== 'failed')) {
      failures.push(`${relative}: ${(file.message ?? 'suite failed').split('\n')[0].slice(0, 300)}`);
    }
  }
  totals.passed += summary.numPassedTests;
  totals.failed += summary.numFailedTests;
  totals.skipped += summary.numPendingTests + summary.numTodoTests;
  if (result.status !== 0 && summary.numFailedTests === 0) {
    // A suite-level failure: an unhandled error or a file that failed to load (vitest prints it above).
    totals.failed += 1;
    failures.push('vitest exited non-zero with no failed test: see "Unhandled Errors" or "Failed Suites" above');
  }
}

// The CUDA sources offline: zero warnings for sm_80 and sm_90, no register spills, HMMA in the tensor-core
// kernels (scripts/check-cuda-sass.mjs). Exit 77: skipped (no nvcc), with the reason printed.
function checkCudaSass() {
  const status = run(process.execPath, ['scripts/check-cuda-sass.mjs']).status;
  if (status === 77) totals.skipped += 1;
  else step('cuda sass check', () => status === 0);
}

step('engine build', buildEngine);
runCtest();
checkCudaSass();
step('typecheck', () => run('npx', ['tsc', '--noEmit']).status === 0);
// The import graph: no cycles, and each floor imports only the floors below it (docs/layout.md).
step('import graph', () => run('npm', ['run', '--silent', 'deps']).status === 0);
step('lint', () => run('npm', ['run', '--silent', 'lint']).status === 0);
// Formatting: biome over the TypeScript, clang-format over cuda/ (scripts/format-check.sh; `npm run format` fixes).
step('format', () => run('npm', ['run', '--silent', 'format:check']).status === 0);
// The dashboard has its own tsconfig (DOM, JSX); its bundler strips types without checking them.
if (existsSync(join(root, 'dashboard/tsconfig.json'))) {
  step('dashboard typecheck', () => run('npx', ['tsc', '-p', 'dashboard', '--noEmit']).status === 0);
}
if (existsSync(join(root, 'scripts/terraform-check.sh'))) {
  step('terraform checks', () => run('bash', ['scripts/terraform-check.sh']).status === 0);
}
runVitest();

if (failures.length > 0) console.log(`\n${failures.map((f) => `✗ ${f}`).join('\n')}`);
console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
