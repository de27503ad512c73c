#!/usr/bin/env node
// Offline checks of the CUDA sources, no GPU needed (run by scripts/test.mjs; alone: node scripts/check-cuda-sass.mjs):
//   warnings   every *.cu under cuda/ compiles for sm_80 and sm_90 with warnings as errors (nvcc
//              --Werror all-warnings, host compiler -Wall -Wextra -Werror), and the CUDA backend's host
//              sources pass g++ -Wall -Wextra -Werror;
//   spills     ptxas -v reports 0 bytes of spill stores and loads for every function in cuda/kernels;
//   tensor     every kernel matched by a line of cuda/kernels/tensor-core-kernels.txt has HMMA (or HGMMA)
//              instructions in its SASS for both architectures, and every line matches some kernel.
// The SASS comes from cuobjdump, taken from PATH or else from the triton wheel (pip download --no-deps
// triton, offline from pip's mirror here), unpacked once into .whl/cuda-tools (ignored by git). Objects
// and ptxas logs are cached in cuda/build/sass-check by a hash of the sources and flags.
// Exit 0: passed; 1: a check failed (each failure named); 77: skipped, with the reason (no nvcc; without
// cuobjdump only the tensor-core check is skipped and the exit still reflects the others).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cudaDir = join(root, 'cuda');
const cacheDir = join(cudaDir, 'build', 'sass-check');
const toolsDir = join(root, '.whl', 'cuda-tools');
const archs = ['80', '90'];
const jobs = Number(process.env.TIDEPOOL_BUILD_JOBS ?? 2);
const nvccFlags = [
  '-std=c++17',
  '-O3',
  '-lineinfo',
  '-c',
  ...archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]),
  '--Werror',
  'all-warnings',
  '-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter,-Werror',
  '-Xptxas=-v',
  '-I',
  join(cudaDir, 'kernels'),
  '-I',
  join(cudaDir, 'src'),
  '-I',
  join(cudaDir, 'backends'),
];
const failures = [];

function say(line) {
  console.log(`check-cuda-sass: ${line}`);
}

function which(command) {
  const probe = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

function walk(dir, keep) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('build')) continue; // cuda/build, cuda/build-fuzz
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, keep));
    else if (keep(entry.name)) out.push(path);
  }
  return out.sort();
}

// cuobjdump from PATH, else from the triton wheel (downloaded once); null with the reason printed.
function findCuobjdump() {
  const onPath = which('cuobjdump');
  if (onPath) return onPath;
  const cached = join(toolsDir, 'cuobjdump');
  if (existsSync(cached)) return cached;
  const wheelDir = join(root, '.whl');
  mkdirSync(wheelDir, { recursive: true });
  let wheel = readdirSync(wheelDir).find((f) => /^triton-.*\.whl$/.test(f));
  if (!wheel) {
    const pip = spawnSync('python3', ['-m', 'pip', 'download', '--no-deps', 'triton', '-d', wheelDir], { encoding: 'utf8' });
    wheel = readdirSync(wheelDir).find((f) => /^triton-.*\.whl$/.test(f));
    if (!wheel) {
      say(`SKIP tensor-core check: cannot get the triton wheel for cuobjdump (${(pip.stderr || pip.error?.message || '').trim().split('\n').pop()})`);
      return null;
    }
  }
  mkdirSync(toolsDir, { recursive: true });
  const unpack = spawnSync(
    'python3',
    [
      '-c',
      [
        'import sys, zipfile, os',
        'z = zipfile.ZipFile(sys.argv[1])',
        'for tool in ("cuobjdump", "nvdisasm"):',
        '    path = os.path.join(sys.argv[2], tool)',
        '    open(path, "wb").write(z.read("triton/backends/nvidia/bin/" + tool))',
        '    os.chmod(path, 0o755)',
      ].join('\n'),
      join(wheelDir, wheel),
      toolsDir,
    ],
    { encoding: 'utf8' },
  );
  if (unpack.status !== 0) {
    say(`SKIP tensor-core check: cannot unpack cuobjdump from ${wheel}: ${unpack.stderr.trim().split('\n').pop()}`);
    return null;
  }
  return cached;
}

// The compiler, the flags and every header a source may include: a change to any of them recompiles.
let toolchainAndHeaders = null;
function sourceHash(file, flags) {
  if (!toolchainAndHeaders) {
    const h = createHash('sha256');
    h.update(spawnSync('nvcc', ['--version'], { encoding: 'utf8' }).stdout ?? '');
    h.update(spawnSync('g++', ['--version'], { encoding: 'utf8' }).stdout ?? '');
    for (const header of walk(cudaDir, (n) => /\.(h|cuh)$/.test(n))) h.update(readFileSync(header));
    toolchainAndHeaders = h.digest('hex');
  }
  return createHash('sha256').update(toolchainAndHeaders).update(flags.join(' ')).update(readFileSync(file)).digest('hex').slice(0, 24);
}

// Compiles `file` (cached); returns {object, log} or null after recording the failure.
function compile(file) {
  mkdirSync(cacheDir, { recursive: true });
  const key = sourceHash(file, nvccFlags);
  const object = join(cacheDir, `${key}.o`),
    log = join(cacheDir, `${key}.log`);
  if (existsSync(object) && existsSync(log)) return { file, object, log: readFileSync(log, 'utf8') };
  return spawnAsync('nvcc', [...nvccFlags, file, '-o', object]).then(({ status, output }) => {
    if (status !== 0) {
      failures.push(`${relative(root, file)} does not compile cleanly for sm_${archs.join('/sm_')}:\n${output.trim().split('\n').slice(-15).join('\n')}`);
      return null;
    }
    writeFileSync(log, output);
    return { file, object, log: output };
  });
}

function spawnAsync(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('close', (status) => resolve({ status, output }));
    child.on('error', (error) => resolve({ status: 1, output: error.message }));
  });
}

async function compileAll(files) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      results.push(await compile(file));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return results.filter(Boolean);
}

// ptxas -v: "Compiling entry function 'X' for 'sm_80'" ... "Function properties for X" then "N bytes stack
// frame, S bytes spill stores, L bytes spill loads".
function spills(log) {
  const rows = [];
  let arch = '?',
    fn = null;
  for (const line of log.split('\n')) {
    const entry = /Compiling entry function '([^']+)' for 'sm_(\d+)'/.exec(line);
    if (entry) arch = entry[2];
    const props = /Function properties for (\S+)/.exec(line);
    if (props) fn = props[1];
    const counts = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (counts && fn) rows.push({ fn, arch, stack: Number(counts[1]), stores: Number(counts[2]), loads: Number(counts[3]) });
  }
  return rows;
}

// cuobjdump -sass: "code for sm_80" sections of "Function : X" bodies; counts HMMA/HGMMA per (fn, arch).
function tensorOps(cuobjdump, object) {
  const out = spawnSync(cuobjdump, ['-sass', object], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (out.status !== 0) throw new Error(`cuobjdump -sass ${object}: ${out.stderr}`);
  const counts = new Map();
  let arch = '?',
    fn = null;
  for (const line of out.stdout.split('\n')) {
    const code = /code for sm_(\d+)/.exec(line);
    if (code) arch = code[1];
    const func = /Function : (\S+)/.exec(line);
    if (func) {
      fn = func[1];
      counts.set(`${fn} ${arch}`, counts.get(`${fn} ${arch}`) ?? 0);
    }
    if (fn && /\bH[G]?MMA\b|\bHGMMA\./.test(line)) counts.set(`${fn} ${arch}`, (counts.get(`${fn} ${arch}`) ?? 0) + 1);
  }
  return counts;
}

function demangle(names) {
  const out = spawnSync('c++filt', [], { input: names.join('\n'), encoding: 'utf8' });
  const lines = out.status === 0 ? out.stdout.split('\n') : names;
  return new Map(names.map((n, i) => [n, lines[i] ?? n]));
}

// The CUDA backend's host sources (g++ in the normal build, where warnings do not fail it); a clean result
// is remembered by hash.
function hostWarnings() {
  const include = existsSync('/usr/local/cuda/include') ? ['-I', '/usr/local/cuda/include'] : [];
  const flags = [
    '-std=c++17',
    '-fsyntax-only',
    '-Wall',
    '-Wextra',
    '-Wno-unused-parameter',
    '-Werror',
    ...include,
    '-I',
    join(cudaDir, 'src'),
    '-I',
    join(cudaDir, 'backends'),
    '-I',
    join(cudaDir, 'kernels'),
  ];
  const files = walk(join(cudaDir, 'backends', 'cuda'), (n) => n.endsWith('.cpp'));
  for (const file of files) {
    const clean = join(cacheDir, `${sourceHash(file, flags)}.clean`);
    if (existsSync(clean)) continue;
    const r = spawnSync('g++', [...flags, file], { encoding: 'utf8' });
    if (r.status !== 0) failures.push(`${relative(root, file)} has host-compiler warnings:\n${r.stderr.trim().split('\n').slice(0, 15).join('\n')}`);
    else writeFileSync(clean, '');
  }
  return files.length;
}

async function main() {
  if (!which('nvcc')) {
    say('SKIP: no nvcc on PATH (the CUDA backend is not built here)');
    process.exit(77);
  }
  const kernelFiles = walk(join(cudaDir, 'kernels'), (n) => n.endsWith('.cu'));
  const otherFiles = walk(cudaDir, (n) => n.endsWith('.cu')).filter((f) => !kernelFiles.includes(f));
  const started = Date.now();
  const kernels = await compileAll(kernelFiles);
  await compileAll(otherFiles); // tests: warnings only
  const hostFiles = hostWarnings();
  say(
    `${kernelFiles.length + otherFiles.length} .cu files compiled for sm_${archs.join(' and sm_')} and ${hostFiles} host sources of the CUDA backend checked, warnings as errors (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );

  const rows = kernels.flatMap((k) => spills(k.log).map((r) => ({ ...r, file: relative(root, k.file) })));
  const names = demangle([...new Set(rows.map((r) => r.fn))]);
  for (const r of rows.filter((x) => x.stores > 0 || x.loads > 0))
    failures.push(`${r.file}: ${names.get(r.fn)} spills on sm_${r.arch} (${r.stores} bytes stored, ${r.loads} loaded)`);
  say(`${rows.length} functions x arch in cuda/kernels; spills: ${rows.filter((x) => x.stores > 0 || x.loads > 0).length}`);

  const cuobjdump = findCuobjdump();
  if (cuobjdump) {
    const listFile = join(cudaDir, 'kernels', 'tensor-core-kernels.txt');
    const patterns = readFileSync(listFile, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const counts = new Map();
    for (const k of kernels) for (const [key, n] of tensorOps(cuobjdump, k.object)) counts.set(key, n);
    const demangled = demangle([...new Set([...counts.keys()].map((key) => key.split(' ')[0]))]);
    for (const pattern of patterns) {
      const re = new RegExp(pattern);
      const matched = [...counts.entries()].filter(([key]) => re.test(demangled.get(key.split(' ')[0]) ?? key));
      if (matched.length === 0) failures.push(`tensor-core-kernels.txt: "${pattern}" matches no kernel in cuda/kernels`);
      for (const [key, n] of matched) {
        const [fn, arch] = key.split(' ');
        if (n === 0) failures.push(`${demangled.get(fn)} on sm_${arch}: no HMMA/HGMMA instruction (listed as a tensor-core kernel)`);
        else say(`tensor cores: ${demangled.get(fn)} on sm_${arch}: ${n} HMMA/HGMMA`);
      }
    }
  }
  if (failures.length > 0) {
    for (const f of failures) console.error(`check-cuda-sass: FAIL: ${f}`);
    process.exit(1);
  }
  say(cuobjdump ? 'PASS' : 'PASS (tensor-core check skipped)');
}

await main();
