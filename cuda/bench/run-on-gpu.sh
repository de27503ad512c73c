#!/usr/bin/env bash
# One command for a GPU machine: build the engine with CMake for sm_90 (override with CUDA_ARCHS), run the
# engine's ctest suite (the cuda_* tests included), then the engine benchmark, and copy logs and results to
# $OUT when it is set. Run from the repository root:
#   cuda/bench/run-on-gpu.sh [tiny|full]       # default full: the qwen2.5-7b shape
# With Node carried (../shared/tools/gpu-pack.sh, carry [".gpu"]) the benchmark runs through
# `npm run bench -- engine` (prints beside the vLLM anchors and writes test/bench/results/engine-<size>.json);
# without Node it runs tidepool-engine-bench directly and hf_baseline.py beside it.
set -uo pipefail
size=${1:-full}
archs=${CUDA_ARCHS:-90}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/cuda/build/gpu-run}
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/run.log"; }

if [[ -f .gpu/node.tar.xz ]]; then
  tar xJf .gpu/node.tar.xz -C /tmp && export PATH=/tmp/node/bin:$PATH
  [[ -f .gpu/node_modules.tar.xz && ! -d node_modules ]] && tar xJf .gpu/node_modules.tar.xz
fi

log "device"
nvidia-smi -L 2>&1 | tee -a "$out/run.log"
log "build (sm_$archs)"
cmake -S cuda -B cuda/build -DCMAKE_BUILD_TYPE=Release -DTIDEPOOL_CUDA_ARCHS="$archs" >"$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build cuda/build -j"$(nproc)" >"$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -30; exit 1; }
cat cuda/build/backends.txt | tee -a "$out/run.log"

log "ctest"
ctest --test-dir cuda/build --output-on-failure -j1 2>&1 | tee "$out/ctest.log" | tail -25
cuda/build/backends/cuda/cuda_kernels_test >"$out/cuda_kernels_test.log" 2>&1
cuda/build/backends/cuda/cuda_backend_test >"$out/cuda_backend_test.log" 2>&1

shape=qwen2.5-7b
[[ "$size" == tiny ]] && shape=qwen2.5-0.5b
synth_dir=/dev/shm/tidepool-bench-$shape
need=$([[ "$shape" == qwen2.5-7b ]] && echo 17000000 || echo 1500000)  # KiB
if (( $(df -k --output=avail /dev/shm | tail -1) < need )); then synth_dir=/tmp/tidepool-bench-$shape; fi

log "bench ($shape in $synth_dir)"
export TIDEPOOL_BENCH_DIR=$synth_dir
if command -v node >/dev/null && [[ -d node_modules ]]; then
  npm run bench -- engine --size "$size" 2>&1 | tee "$out/bench.log"
  cp test/bench/results/engine-"$size".json "$out/" 2>/dev/null
else
  cuda/build/backends/cuda/tidepool-engine-bench --shape "$shape" --dir "$synth_dir" --out "$out/engine-$size.json" 2>&1 | tee "$out/bench.log" | tail -30
  python3 cuda/bench/hf_baseline.py --shape "$shape" >"$out/hf-$size.json" 2>"$out/hf.log" || tail -5 "$out/hf.log"
fi
log "done; files in $out"
