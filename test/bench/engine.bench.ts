// Benchmark 2 (BENCHMARKS.md §2): the CUDA engine against the hardware. Runs tidepool-engine-bench (built by
// CMake into cuda/build/backends/cuda) on a synthesized qwen2.5-7b shape (size full) or qwen2.5-0.5b (tiny),
// then prints every figure beside its roofline and the vLLM anchor from ../shared/calibration (qwen2_5_7b on
// the same GPU kind when present, else H100). Hugging Face transformers numbers come from
// cuda/bench/hf_baseline.py when python3 with torch and transformers is present. Without a CUDA device it
// prints "engine bench: not measured (no CUDA device)" for those rows.
// The host sampler's rows (`sampling`) need no GPU: tidepool-sampling-bench (always built into cuda/build)
// measures one row per sampling mode at vocab 151,936 and they are written to engine-sampling-cpu.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface DecodeRow {
  readonly batch: number;
  readonly context: number;
  readonly ms: number;
  readonly roofline_ms: number;
  readonly fraction_of_roofline: number;
}
interface PrefillRow {
  readonly tokens: number;
  readonly ms: number;
  readonly tflops: number;
}
interface SwitchRow {
  readonly path: string;
  readonly staging_reason?: string;
  readonly copy_layout?: string;
  readonly first_load_of_mapping: boolean;
  readonly pin_ms: number;
  readonly bytes: number;
  readonly total_ms: number;
  readonly copy_ms: number;
  readonly fixed_ms: number;
  readonly gbps: number;
  readonly fraction_of_h2d: number;
}
interface EngineResult {
  readonly device: string;
  readonly shape: string;
  readonly ceilings: { readonly h2d_pinned_gbps: number; readonly d2h_pinned_gbps: number; readonly d2d_gbps: number };
  readonly switch: readonly SwitchRow[];
  readonly decode: readonly DecodeRow[];
  readonly prefill: readonly PrefillRow[];
  readonly kv_swap: { readonly bytes: number; readonly park_gbps: number; readonly restore_gbps: number };
  readonly prefetch_overlap: {
    readonly load_ms: number;
    readonly decode_ms_alone: number;
    readonly decode_ms_during_load: number;
    readonly decode_steps_during_load: number;
  };
  readonly preempt: { readonly ms: number };
  readonly graphs?: { readonly captures: number; readonly replays: number; readonly eager_fallbacks: number };
}
interface Profile {
  readonly model: string;
  readonly gpu: string;
  readonly input_len: number;
  readonly batch: number;
  readonly prefill_s_p50: number;
  readonly decode_s_p50: number;
}
type HfResult = {
  readonly decode: readonly { batch: number; context: number; ms: number }[];
  readonly prefill: readonly { tokens: number; ms: number }[];
} | null;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const benchBinary = join(root, 'cuda', 'build', 'backends', 'cuda', 'tidepool-engine-bench');
const samplingBinary = join(root, 'cuda', 'build', 'tidepool-sampling-bench');

interface SamplingRow {
  readonly mode: string;
  readonly vocab: number;
  readonly us_per_token: number;
  readonly mean_us: number;
  readonly p90_us: number;
  readonly cpu_us_per_token: number;
  readonly floor_us: number;
  readonly anchor_previous_sampler_us: number;
  readonly regrowths?: number;
  readonly exact_normalisers?: number;
  readonly cold_mask_build_ms?: number;
}
interface ForkRow {
  readonly mode: string;
  readonly n: number;
  readonly prompt_tokens: number;
  readonly prefill_tokens_computed: number;
  readonly first_tokens_ms: number;
  readonly total_ms: number;
}
interface SamplingResult {
  readonly device: string;
  readonly vector_path: string;
  readonly vocab: number;
  readonly load_average_1min?: number;
  readonly floor_row_in_cache_us?: number;
  readonly logits: Readonly<Record<string, unknown>>;
  readonly sampling: readonly SamplingRow[];
  readonly n?: readonly ForkRow[];
}

function hasCudaDevice(): boolean {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  return smi.status === 0 && smi.stdout.includes('GPU');
}

function loadAnchors(device: string): { gpu: string; profiles: Profile[] } {
  const file = join(root, '..', 'shared', 'calibration', 'vllm-step-profiles.jsonl');
  if (!existsSync(file)) return { gpu: 'none', profiles: [] };
  const all = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Profile);
  const qwen = all.filter((p) => p.model === 'qwen2_5_7b');
  const gpu = ['H200', 'H100', 'H800', 'H20', 'A100', 'A10'].find((name) => device.includes(name) && qwen.some((p) => p.gpu === name)) ?? 'H100';
  return { gpu, profiles: qwen.filter((p) => p.gpu === gpu) };
}

function anchor(profiles: readonly Profile[], inputLen: number, batch: number, field: 'prefill_s_p50' | 'decode_s_p50'): number | null {
  const p = profiles.find((row) => row.input_len === inputLen && row.batch === batch);
  return p ? p[field] * 1000 : null;
}

function runHf(shape: string): HfResult {
  const script = join(root, 'cuda', 'bench', 'hf_baseline.py');
  const probe = spawnSync('python3', ['-c', 'import torch, transformers; assert torch.cuda.is_available()']);
  if (probe.status !== 0) return null;
  const run = spawnSync('python3', [script, '--shape', shape], { encoding: 'utf8', timeout: 900_000 });
  if (run.status !== 0) {
    console.log(`hf baseline failed: ${run.stderr.slice(-400)}`);
    return null;
  }
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? 'null') as HfResult;
}

const fmt = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? '—' : v.toFixed(digits));

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown'; // not a git checkout (e.g. a copied tree on the GPU machine)
  }
}

// The host sampler per sequence-token, one row per mode, beside one read of the row (the floor) and the
// previous full-sort sampler (the anchor). Bar: every mode <= 300 us, aim < 100 us.
async function runSampling(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  if (!existsSync(samplingBinary)) {
    console.log(`sampling: not measured (${samplingBinary} missing; run node scripts/build-engine.mjs)`);
    return;
  }
  const calls = args.size === 'full' ? '3000' : '300';
  const stdout = execFileSync(samplingBinary, ['--calls', calls], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as SamplingResult;
  const first = result.sampling[0];
  console.log(
    `sampling on ${result.device} (${result.vector_path}, load average ${fmt(result.load_average_1min, 1)}), vocab ${result.vocab}: floor (one read of the row) ${fmt(first?.floor_us, 1)} us from memory, ${fmt(result.floor_row_in_cache_us, 1)} us in cache, previous full-sort sampler ${fmt(first?.anchor_previous_sampler_us, 0)} us; bar 300 us, aim 100 us`,
  );
  console.log('mode                                                          us/token   mean    p90  cpu us  bar');
  for (const r of result.sampling)
    console.log(
      `${r.mode.padEnd(60)} ${fmt(r.us_per_token, 1).padStart(8)} ${fmt(r.mean_us, 0).padStart(6)} ${fmt(r.p90_us, 0).padStart(6)} ${fmt(r.cpu_us_per_token, 1).padStart(7)}  ${r.us_per_token <= 300 ? 'met' : 'missed'}`,
    );
  // n > 1: the prefill a fork saves (CPU backend, small random model; the anchor is the separate prefills)
  for (const f of result.n ?? [])
    console.log(
      `n=${f.n}, prompt ${f.prompt_tokens}: ${f.mode.padEnd(32)} prefill ${String(f.prefill_tokens_computed).padStart(5)} tokens, first tokens ${fmt(f.first_tokens_ms, 0)} ms, all done ${fmt(f.total_ms, 0)} ms`,
    );
  await mkdir(args.outDir, { recursive: true });
  const out = { bench: 'engine-sampling', engine: 'cpu', size: args.size, device: result.device, date: new Date().toISOString(), commit: gitCommit(), result };
  await writeFile(join(args.outDir, args.size === 'full' ? 'engine-sampling-cpu.json' : 'engine-sampling-cpu-tiny.json'), `${JSON.stringify(out, null, 2)}\n`);
}

export default async function run(args: { size: 'tiny' | 'full'; outDir: string }): Promise<void> {
  await runSampling(args);
  if (!hasCudaDevice() || !existsSync(benchBinary)) {
    console.log('engine bench: not measured (no CUDA device)');
    return;
  }
  const shape = args.size === 'full' ? 'qwen2.5-7b' : 'qwen2.5-0.5b';
  const stdout = execFileSync(benchBinary, ['--shape', shape, ...(process.env.TIDEPOOL_BENCH_DIR ? ['--dir', process.env.TIDEPOOL_BENCH_DIR] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as EngineResult;
  const { gpu, profiles } = loadAnchors(result.device);
  const hf = runHf(shape);
  const c = result.ceilings;
  console.log(`device ${result.device}, shape ${shape}; vLLM anchors: qwen2_5_7b on ${gpu}${shape === 'qwen2.5-7b' ? '' : ' (other shape: context only)'}`);
  console.log(`ceilings: H2D pinned ${fmt(c.h2d_pinned_gbps, 1)} GB/s, D2H ${fmt(c.d2h_pinned_gbps, 1)} GB/s, D2D ${fmt(c.d2d_gbps, 0)} GB/s`);
  // A switch is a load of a mapping that is already pinned; the first load of a mapping also pins it.
  // The path column says pinned DMA or the staging ring, and why the ring (a failed registration is loud here).
  const pathOf = (s: SwitchRow): string => `${s.path}${s.staging_reason ? `: ${s.staging_reason}` : ''}${s.copy_layout ? `, ${s.copy_layout}` : ''}`;
  for (const s of result.switch)
    console.log(
      `${s.first_load_of_mapping ? `first load (${pathOf(s)}, pin ${fmt(s.pin_ms, 1)} ms)` : `switch (${pathOf(s)})`}: ${fmt(s.total_ms, 1)} ms for ${fmt(s.bytes / 1e9)} GB = ${fmt(s.gbps, 1)} GB/s (${fmt(100 * s.fraction_of_h2d, 0)}% of H2D; bar 90%), fixed ${fmt(s.fixed_ms)} ms (bar 20 ms); bound ${fmt(s.bytes / c.h2d_pinned_gbps / 1e6, 1)} ms`,
    );
  console.log('decode   batch ctx    ms   roofline  %roof   vLLM    HF');
  for (const d of result.decode) {
    const h = hf?.decode.find((r) => r.batch === d.batch && r.context === d.context);
    console.log(
      `         ${String(d.batch).padStart(5)} ${String(d.context).padStart(4)} ${fmt(d.ms).padStart(6)} ${fmt(d.roofline_ms).padStart(8)} ${fmt(100 * d.fraction_of_roofline, 0).padStart(5)}% ${fmt(anchor(profiles, d.context, d.batch, 'decode_s_p50')).padStart(6)} ${fmt(h?.ms).padStart(6)}`,
    );
  }
  console.log('prefill tokens     ms  TFLOP/s   vLLM    HF');
  for (const p of result.prefill) {
    const h = hf?.prefill.find((r) => r.tokens === p.tokens);
    console.log(
      `        ${String(p.tokens).padStart(6)} ${fmt(p.ms).padStart(6)} ${fmt(p.tflops, 1).padStart(8)} ${fmt(anchor(profiles, p.tokens, 1, 'prefill_s_p50')).padStart(6)} ${fmt(h?.ms).padStart(6)}`,
    );
  }
  console.log(
    `kv swap: park ${fmt(result.kv_swap.park_gbps, 1)} GB/s (D2H ${fmt(c.d2h_pinned_gbps, 1)}), restore ${fmt(result.kv_swap.restore_gbps, 1)} GB/s (H2D ${fmt(c.h2d_pinned_gbps, 1)})`,
  );
  const o = result.prefetch_overlap;
  console.log(
    `prefetch overlap: a ${fmt(o.load_ms, 1)} ms copy into a free slot while the other model ran ${o.decode_steps_during_load} decode steps at ${fmt(o.decode_ms_during_load)} ms (alone ${fmt(o.decode_ms_alone)} ms)`,
  );
  console.log(`preempt: ${fmt(result.preempt.ms)} ms to the other resident model's first token (bar: one decode step + 5 ms)`);
  if (result.graphs)
    console.log(
      `decode graphs: ${result.graphs.captures} captured, ${result.graphs.replays} replays, ${result.graphs.eager_fallbacks} batch sizes run eagerly`,
    );
  const commit = gitCommit();
  await mkdir(args.outDir, { recursive: true });
  const out = { bench: 'engine', engine: 'cuda', size: args.size, device: result.device, date: new Date().toISOString(), commit, anchors_gpu: gpu, result, hf };
  await writeFile(join(args.outDir, `engine-${args.size}.json`), `${JSON.stringify(out, null, 2)}\n`);
}
