#!/usr/bin/env bash
# The whole test suite: Debian packages, then three builds with warnings as
# errors: ASan+UBSan (unit and language tests), clang libFuzzer (bounded
# fuzzing), and Release (everything: unit, language, runtime, protocol,
# notebooks; it also builds the CUDA backend module when the toolkit and
# cuDNN are installed, and its GPU tests run against the emulated device, or
# skip where they need a real GPU). The sanitizer and fuzzing builds leave
# the CUDA module out: nvcc code is not instrumented, and the runtime's device
# plumbing is covered there through the emulated GPU. Ends with ctest's
# summary line for the Release build.
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
if configure build-asan Sanitize -DHELLODL_CUDA=OFF; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L 'unit|lang' -j "$jobs" --output-on-failure) || status=1
else
  status=1
fi
echo "== clang libFuzzer build: bounded fuzzing of the wire and language parsers"
if CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DHELLODL_WERROR=ON \
     -DHELLODL_FUZZ=ON -DHELLODL_CUDA=OFF >/dev/null &&
   cmake --build build-fuzz -j "$jobs" --target fuzz_wire fuzz_lang >build-fuzz/build.log 2>&1; then
  (cd build-fuzz && ctest -L fuzz -j "$jobs" --output-on-failure) || status=1
else
  cat build-fuzz/build.log 2>/dev/null
  status=1
fi
echo "== Release build: the whole suite"
if configure build Release; then
  (cd build && ctest -j "$jobs" --output-on-failure) || status=1
else
  status=1
fi
exit $status
