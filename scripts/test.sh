#!/usr/bin/env bash
# The whole test suite: Debian packages, then two builds (ASan+UBSan and
# Release, warnings as errors), the unit and language tests under the
# sanitizers, and everything (unit, language, protocol, notebooks, fuzzing)
# on the Release build. Ends with ctest's summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
jobs=$(nproc)
status=0
configure() {  # dir, build type, extra args
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE="$2" -DHELLODL_WERROR=ON "${@:3}" >/dev/null &&
  cmake --build "$1" -j "$jobs" >"$1/build.log" 2>&1 || { cat "$1/build.log"; return 1; }
}
echo "== ASan+UBSan build: unit and language tests"
if configure build-asan Sanitize; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'unit|lang' -j "$jobs" --output-on-failure) || status=1
else
  status=1
fi
echo "== Release build: the whole suite"
fuzz=OFF
command -v clang >/dev/null && fuzz=ON
if configure build Release -DHELLODL_FUZZ="$fuzz"; then
  (cd build && ctest -j "$jobs" --output-on-failure) || status=1
else
  status=1
fi
exit $status
