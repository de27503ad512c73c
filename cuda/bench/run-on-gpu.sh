#!/usr/bin/env bash
# One command for a GPU machine, run from the repository root:
#   cuda/bench/run-on-gpu.sh [tiny|full]     # default full: the qwen2.5-7b shape; tiny: qwen2.5-0.5b
# Steps, each once, stopping at the first failure (its name and exit status are the last line):
#   device   nvidia-smi -L must list a GPU
#   build    CMake for sm_90 (CUDA_ARCHS=... to change); the build must include the cuda backend
#   ctest    every engine test once, GPU tests included; TIDEPOOL_REQUIRE_GPU=1 makes a GPU test that
#            would skip fail instead, so nothing on a GPU machine can pass by skipping
#   bench    the engine benchmark: through `npm run bench -- engine` when Node is carried (writes
#            test/bench/results/engine-<size>.json beside the vLLM anchors), else tidepool-engine-bench
#            directly; then the Hugging Face baseline (cuda/bench/hf_baseline.py) when torch is there
# Estimated on an H100 machine (16 cores), not yet timed: build 1.5-2.5 min, ctest 1-2 min, bench full
# 2-3 min (15 GB synthesized into /dev/shm, pinned twice, 5 loads), Hugging Face baseline 1-2 min:
# 6-9 min in all, inside one 10-minute call; tiny takes about half.
# Logs and results go to $OUT (at most 7 files: run.log, build.log, ctest.log, bench.log, hf.log,
# engine-<size>.json, hf-<size>.json), else cuda/build/gpu-run.
set -euo pipefail
size=${1:-full}
case "$size" in tiny | full) ;; *) echo "usage: $0 [tiny|full]" >&2; exit 2 ;; esac
archs=${CUDA_ARCHS:-90}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/cuda/build/gpu-run}
mkdir -p "$out"
step_name=setup
log() { echo "== $*" | tee -a "$out/run.log"; }
trap 'status=$?; log "FAILED at step \"$step_name\" (exit $status); logs in $out"; exit $status' ERR
start=$SECONDS
step() {
  step_name=$1
  log "$step_name ($((SECONDS - start)) s)"
}

if [[ -f .gpu/node.tar.xz ]]; then
  tar xJf .gpu/node.tar.xz -C /tmp && export PATH=/tmp/node/bin:$PATH
  if [[ -f .gpu/node_modules.tar.xz && ! -d node_modules ]]; then tar xJf .gpu/node_modules.tar.xz; fi
fi

step device
nvidia-smi -L 2>&1 | tee -a "$out/run.log" | grep GPU >/dev/null

step "build (sm_$archs)"
{
  cmake -S cuda -B cuda/build -DCMAKE_BUILD_TYPE=Release -DTIDEPOOL_CUDA_ARCHS="$archs" &&
    cmake --build cuda/build -j"$(nproc)"
} >"$out/build.log" 2>&1 || { grep -E "error|Error" "$out/build.log" | head -30; false; }
tee -a "$out/run.log" <cuda/build/backends.txt
grep -q cuda cuda/build/backends.txt

step ctest
export TIDEPOOL_REQUIRE_GPU=1
ctest --test-dir cuda/build --output-on-failure -V -j1 >"$out/ctest.log" 2>&1 || { grep -E "Test +#|tests passed|FAIL" "$out/ctest.log" | tail -30; false; }
grep -E "Test +#|tests passed" "$out/ctest.log" | tee -a "$out/run.log"

shape=qwen2.5-7b need_kib=17000000
if [[ "$size" == tiny ]]; then shape=qwen2.5-0.5b need_kib=1500000; fi
synth_dir=/dev/shm/tidepool-bench-$shape-hf
if (($(df -k --output=avail /dev/shm | tail -1) < need_kib)); then synth_dir=/tmp/tidepool-bench-$shape-hf; fi
export TIDEPOOL_BENCH_DIR=$synth_dir

step "bench ($shape in $synth_dir)"
if command -v node >/dev/null && [[ -d node_modules ]]; then
  npm run bench -- engine --size "$size" 2>&1 | tee "$out/bench.log"
  cp test/bench/results/engine-"$size".json "$out/"
else
  cuda/build/backends/cuda/tidepool-engine-bench --shape "$shape" --dir "$synth_dir" --out "$out/engine-$size.json" >"$out/bench.log" 2>&1 \
    || { tail -20 "$out/bench.log"; false; }
  { grep -vE '^\{' "$out/bench.log" || true; } | tail -30 | tee -a "$out/run.log"
  step "hugging face baseline ($shape)"
  if python3 -c 'import torch, transformers; assert torch.cuda.is_available()' >/dev/null 2>&1; then
    python3 cuda/bench/hf_baseline.py --shape "$shape" >"$out/hf-$size.json" 2>"$out/hf.log" || { tail -20 "$out/hf.log"; false; }
    tee -a "$out/run.log" <"$out/hf-$size.json"
  else
    log "hugging face baseline: not measured (python3 has no torch with CUDA, or no transformers)"
  fi
fi
step_name=done
log "done in $((SECONDS - start)) s; files in $out"
