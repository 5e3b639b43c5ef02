#!/bin/sh
# memcheck.sh PROGRAM [SANITIZER]: run PROGRAM under compute-sanitizer's
# memcheck; any memory error fails the test. Exits 77 (skipped), saying
# why, when compute-sanitizer or an NVIDIA GPU is missing. SANITIZER is
# what CMake found (empty or *-NOTFOUND when it found nothing).
prog=$1
san=$2
case "$san" in *NOTFOUND) san= ;; esac
if [ -z "$san" ] || [ ! -x "$san" ]; then
    san=
    for c in "$(command -v compute-sanitizer 2>/dev/null)" \
             /usr/local/cuda/bin/compute-sanitizer \
             /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            san=$c
            break
        fi
    done
fi
if [ -z "$san" ]; then
    echo "skipped: compute-sanitizer was not found (on PATH, in /usr/local/cuda/bin or /usr/local/cuda/compute-sanitizer)"
    exit 77
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "skipped: no NVIDIA driver here (nvidia-smi is missing)"
    exit 77
fi
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    echo "skipped: nvidia-smi -L lists no GPU"
    exit 77
fi
# A GPU is there: the program must not skip, so 77 from it is a failure.
unset HELLODL_GPU_EMULATE
"$san" --tool memcheck --error-exitcode 1 "$prog"
rc=$?
if [ "$rc" -eq 77 ]; then
    echo "memcheck: $prog skipped although nvidia-smi lists a GPU: the GPU backend is not usable"
    exit 1
fi
exit "$rc"
