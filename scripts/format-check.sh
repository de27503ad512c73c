#!/usr/bin/env bash
# Formatting of the whole tree: biome for TypeScript/JavaScript (biome.json), clang-format for the engine's
# C++/CUDA (cuda/.clang-format). Without arguments it checks and exits non-zero when a file would change
# (`npm run format:check`); with --write it formats in place (`npm run format`). Without clang-format on the
# machine (Debian: apt-get install clang-format) the C++ half is skipped, and says so.
set -uo pipefail
cd "$(dirname "$0")/.."
write=0
[ "${1:-}" = "--write" ] && write=1
status=0

if [ "$write" -eq 1 ]; then
  npx biome format --write || status=1
else
  npx biome format || status=1
fi

mapfile -t sources < <(git ls-files 'cuda/*.cpp' 'cuda/*.h' 'cuda/*.cu' 'cuda/*.cuh' 'cuda/*.hpp')
if ! command -v clang-format > /dev/null; then
  echo "skip: C++/CUDA formatting (clang-format is not installed)"
elif [ "$write" -eq 1 ]; then
  clang-format -i --style=file:cuda/.clang-format "${sources[@]}" || status=1
else
  clang-format --dry-run -Werror --style=file:cuda/.clang-format "${sources[@]}" || status=1
fi
exit "$status"
