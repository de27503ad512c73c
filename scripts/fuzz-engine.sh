#!/usr/bin/env bash
# Fuzzes the engine's parsers (cuda/fuzz: safetensors headers, config.json, the protocol's JSON reader) with
# libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer, for a bounded time per target.
#
#   bash scripts/fuzz-engine.sh [seconds-per-target]      (default: $FUZZ_SECONDS, else 60)
#   FUZZ_TARGETS="json" bash scripts/fuzz-engine.sh 30     (a subset)
#
# Installs clang and libFuzzer with apt-get when they are missing (needs root or passwordless sudo); when they
# cannot be had it prints SKIP with the reason and exits 0. Builds in cuda/build-fuzz, seeds each target from
# cuda/fuzz/corpus/<target>/, and exits 1 on any crash, leak, timeout or sanitizer report, naming the saved
# input. Fix the parser, copy that input into the corpus as crash-<what>, and the ctest replay keeps it fixed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/cuda/fuzz"
BUILD="$ROOT/cuda/build-fuzz"
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-60}}"
TARGETS="${FUZZ_TARGETS:-safetensors model_config json}"
JOBS="${TIDEPOOL_BUILD_JOBS:-2}"

say() { echo "fuzz-engine: $*" >&2; }
skip() { echo "fuzz-engine: SKIP: $*"; exit 0; }
[[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]] || { say "seconds per target must be a positive integer, got '$SECONDS_PER_TARGET'"; exit 2; }

# True when clang++ links a libFuzzer binary with both sanitizers.
libfuzzer_works() {
  command -v clang++ >/dev/null 2>&1 || return 1
  local probe
  probe="$(mktemp -d)"
  printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe/p.cpp"
  clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1
  local ok=$?
  rm -rf "$probe"
  return $ok
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >>"$APT_LOG" 2>&1 && return 0
  # A fresh machine may have no package lists yet.
  DEBIAN_FRONTEND=noninteractive as_root apt-get update -qq >>"$APT_LOG" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >>"$APT_LOG" 2>&1
}

install_toolchain() {
  command -v apt-get >/dev/null 2>&1 || skip "clang with libFuzzer is missing and there is no apt-get to install it"
  [[ "$(id -u)" == 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; } ||
    skip "clang with libFuzzer is missing and installing it needs root or passwordless sudo (apt-get install clang libclang-rt-<version>-dev)"
  APT_LOG="$(mktemp)"
  say "installing clang and libFuzzer with apt-get (log: $APT_LOG)"
  command -v clang++ >/dev/null 2>&1 || apt_install clang || skip "apt-get install clang failed (see $APT_LOG)"
  local major
  major="$(clang++ --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n1)"
  # Debian ships libFuzzer and the sanitizer runtimes in libclang-rt-<major>-dev (older: libclang-common).
  libfuzzer_works || apt_install "libclang-rt-${major}-dev" || apt_install "libclang-common-${major}-dev" || true
  libfuzzer_works || skip "clang++ $major cannot link -fsanitize=fuzzer,address,undefined even after apt-get (see $APT_LOG)"
}

build_targets() {
  say "building $TARGETS in ${BUILD#"$ROOT"/}"
  local log="$BUILD/build.log"
  mkdir -p "$BUILD"
  if ! { cmake -S "$FUZZ_DIR" -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
         cmake --build "$BUILD" -j "$JOBS"; } >"$log" 2>&1; then
    cat "$log" >&2
    say "build failed"
    exit 1
  fi
}

# Longest input per target: the largest seed fits, and mutation stays fast.
max_len() { case "$1" in safetensors) echo 8192 ;; *) echo 4096 ;; esac; }

# Prints one summary line from libFuzzer's final stats and its last status line.
summarize() {
  local target="$1" log="$2"
  local execs rate rss cov ft corp
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)"
  local last
  last="$(grep -E '^#[0-9]+' "$log" | tail -n1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")"
  echo "fuzz-engine: $target: ${execs:-?} runs, ${rate:-?} exec/s, coverage ${cov:-?} edges / ${ft:-?} features, corpus ${corp:-?}, peak ${rss:-?} MB"
}

run_target() {
  local target="$1"
  local binary="$BUILD/fuzz_$target" work="$BUILD/corpus/$target" artifacts="$BUILD/artifacts/$target/"
  local log="$BUILD/$target.log" dict="$FUZZ_DIR/$target.dict"
  mkdir -p "$work" "$artifacts"
  local extra=()
  [[ -f "$dict" ]] && extra+=("-dict=$dict")
  say "$target: ${SECONDS_PER_TARGET}s (log: ${log#"$ROOT"/})"
  # The first corpus dir collects new inputs (kept in the build dir); the committed seeds are read only.
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$binary" "$work" "$FUZZ_DIR/corpus/$target" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$target")" \
    -artifact_prefix="$artifacts" -print_final_stats=1 "${extra[@]}" \
    >"$log" 2>&1
  local status=$?
  summarize "$target" "$log"
  if [[ $status -ne 0 ]] || grep -qE '^SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|runtime error:' "$log"; then
    grep -E 'ERROR: |runtime error:|^SUMMARY:|invariant failed' "$log" | head -n 5 >&2
    local input
    input="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)"
    echo "fuzz-engine: $target FAILED (exit $status); crashing input: ${input:-see $log}"
    echo "fuzz-engine: reproduce with: $binary ${input:-<input>}"
    return 1
  fi
}

libfuzzer_works || install_toolchain
command -v cmake >/dev/null 2>&1 || skip "cmake is not installed"
build_targets
failed=()
for target in $TARGETS; do
  [[ -x "$BUILD/fuzz_$target" ]] || { say "unknown target '$target' (have: safetensors model_config json)"; exit 2; }
  run_target "$target" || failed+=("$target")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz-engine: crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzz-engine: no crashes in $TARGETS (${SECONDS_PER_TARGET}s each)"
