#!/bin/sh
# gpu_module_bench.sh [BUILD_DIR] - the module's workload on the GPU, hellodl
# (bench/gpu_bench) against PyTorch eager (bench/torch_gpu_bench.py), in one
# unattended run, plus the kernel's start-up and the cost of the first cell
# that uses the GPU. Prints every run's own output, then one table.
#
#   cmake -S . -B build -DHELLODL_BENCH=ON && cmake --build build -j
#   bench/gpu_module_bench.sh build
#
# Environment: HELLODL_DATA_PATH (the radiographs; default ../shared/datasets
# beside the checkout when it exists, else synthetic images), PYTHON
# (default /usr/bin/python3), REPEAT (runs of each workload; the table shows
# the fastest; default 1), EXTRA (flags for both gpu_bench and
# torch_gpu_bench: "--tiny" checks this script quickly, "--device cpu"
# compares the two on the CPU, "--synthetic" ignores the radiographs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build}
bench=$build/bench/gpu_bench
kernel=$build/kernel/hellodl
py=${PYTHON:-/usr/bin/python3}
repeat=${REPEAT:-1}
extra=${EXTRA:-}
out=$(mktemp -d "${TMPDIR:-/tmp}/gpu-module-bench-XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

if [ ! -x "$bench" ]; then
    echo "gpu_module_bench: no $bench: configure with -DHELLODL_BENCH=ON and build first" >&2
    exit 2
fi
if [ -z "${HELLODL_DATA_PATH:-}" ] && [ -d "$src/../shared/datasets" ]; then
    HELLODL_DATA_PATH=$(cd "$src/../shared/datasets" && pwd)
    export HELLODL_DATA_PATH
fi
unset HELLODL_DEVICE

echo "== machine =="
if command -v nvidia-smi >/dev/null 2>&1; then
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
        --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
fi
gpu=${gpu:-none (nvidia-smi lists no GPU or is missing)}
[ "${HELLODL_GPU_EMULATE:-}" = 1 ] && gpu="$gpu; hellodl on its emulated GPU (HELLODL_GPU_EMULATE=1)"
echo "GPU: $gpu"
echo "CPU: $(nproc) cores, $(uname -r); $("$kernel" --version 2>/dev/null || echo hellodl ?)"
"$py" -c 'import torch, torchvision; print("PyTorch", torch.__version__, "torchvision",
          torchvision.__version__, "CUDA", torch.version.cuda, "cuDNN",
          torch.backends.cudnn.version(), "usable:", torch.cuda.is_available())' \
    2>/dev/null || echo "PyTorch: not importable by $py"
echo "images: ${HELLODL_DATA_PATH:-unset, synthetic}"
echo

# run NAME COMMAND...: REPEAT runs; keeps the RESULT line of the fastest.
run() {
    name=$1
    shift
    best=
    i=0
    while [ "$i" -lt "$repeat" ]; do
        i=$((i + 1))
        echo "== $name (run $i of $repeat): $* =="
        "$@" >"$out/$name.$i" 2>&1
        rc=$?
        cat "$out/$name.$i"
        if [ "$rc" -ne 0 ]; then
            echo "(exit status $rc)"
            continue
        fi
        line=$(grep '^RESULT ' "$out/$name.$i" | tail -n 1)
        total=$(echo "$line" | sed -n 's/.* total=\([0-9.]*\).*/\1/p')
        if [ -n "$total" ] && { [ -z "$best" ] || \
            awk -v a="$total" -v b="$best" 'BEGIN { exit !(a < b) }'; }; then
            best=$total
            echo "$line" >"$out/$name.result"
        fi
        echo
    done
}

# $extra is split into words on purpose (several flags).
# shellcheck disable=SC2086
run ours_once "$bench" $extra
# shellcheck disable=SC2086
run ours_every "$bench" --every-step $extra
# shellcheck disable=SC2086
run torch_once "$py" "$here/torch_gpu_bench.py" $extra
# shellcheck disable=SC2086
run torch_every "$py" "$here/torch_gpu_bench.py" --every-step $extra

# Kernel start-up to the first kernel_info_reply (kernel_bench.py
# --startup-only), then the first cell that touches the GPU: `%gpu` in a
# fresh `hellodl run` against `1;` (the difference is loading the CUDA
# module, cuBLAS and cuDNN and creating the context, which the kernel does
# lazily, never at start).
echo "== kernel start-up =="
startup=-
"$py" "$here/kernel_bench.py" --hellodl "$kernel" --only hellodl --startup-only \
    --starts 20 >"$out/kernel" 2>&1
cat "$out/kernel"
# The row "hellodl  MEDIAN  P90  MIN", in ms.
line=$(awk '$1 == "hellodl" && NF == 4 { print; exit }' "$out/kernel")
if [ -n "$line" ]; then
    startup=$(echo "$line" | awk '{ printf "%s (p90 %s, min %s)", $2, $3, $4 }')
fi
echo
echo "== first GPU cell =="
printf '1;\n' >"$out/plain.dl"
printf '%%gpu\n' >"$out/gpu.dl"
probe() { # median of 5 wall times of `hellodl run FILE`, in ms
    for _ in 1 2 3 4 5; do
        s=$(date +%s%N)
        "$kernel" run "$1" >"$out/probe.out" 2>&1
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
    done | sort -n | sed -n 3p
}
plain_ms=$(probe "$out/plain.dl")
gpu_ms=$(probe "$out/gpu.dl")
cat "$out/probe.out"
echo "hellodl run with '1;': $plain_ms ms; with '%gpu': $gpu_ms ms (median of 5)"
echo

# The table: seconds per phase, peak memory, for both ways of running the
# frozen phase.
field() { # field FILE KEY
    if [ -f "$1" ]; then
        sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1"
    fi
}
echo "== summary: InceptionV3 299x299, batch 8, 5 frozen + 3 unfrozen epochs, 65 + 10 images, 2 predictions${extra:+ (flags: $extra)} =="
echo "GPU: $gpu; images: $(field "$out/ours_once.result" images)"
for mode in once every; do
    o=$out/ours_$mode.result
    t=$out/torch_$mode.result
    if [ "$mode" = once ]; then
        echo "-- frozen phase: backbone features computed once per image (fit() without augmentation)"
    else
        echo "-- frozen phase: backbone run at every step (the compute of augmented training)"
    fi
    printf '%-32s %12s %12s %8s\n' "" hellodl pytorch ratio
    for key in build data frozen unfrozen predict total peak_live_mb reserved_mb used_mb rss_mb; do
        a=$(field "$o" "$key")
        b=$(field "$t" "$key")
        ratio=$(awk -v a="${a:-}" -v b="${b:-}" 'BEGIN {
            if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }')
        case $key in
            peak_live_mb) label="device peak allocated (MB)" ;;
            reserved_mb) label="GPU pool reserved peak (MB)" ;;
            used_mb) label="GPU used, free-memory drop (MB)" ;;
            rss_mb) label="host peak RSS (MB)" ;;
            *) label="$key (s)" ;;
        esac
        printf '%-32s %12s %12s %8s\n' "$label" "${a:--}" "${b:--}" "$ratio"
    done
done
echo "ratio: hellodl / pytorch (below 1: hellodl is faster or smaller)"
echo "kernel start-up to kernel_info_reply, median of 20 (ms): $startup"
echo "first cell on the GPU (%gpu) in a fresh process: $gpu_ms ms, against $plain_ms ms for '1;'"
