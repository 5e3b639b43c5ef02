#!/bin/sh
# Interpreter speed of the cell language against CPython 3 running the same
# algorithms on the same machine, in the same run. Prints figures only.
#   bench/lang_bench.sh [out-dir]       (default: build-bench)
# The language's own sources are compiled at -O3 (the runtime's bindings,
# kernel/lang/rt_*.c, are left out: they are not what is measured).
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-bench}
mkdir -p "$out"
srcs=$(ls "$here"/kernel/lang/*.c | grep -v '/rt_')
# The registry calls the runtime's registration; without the runtime it has
# nothing to register.
echo 'void rtb_register(void); void rtb_register(void) {}' > "$out/no_runtime.c"
cc -O3 -DNDEBUG -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$here/kernel/lang" -I"$here/runtime" \
   "$here/bench/lang_bench.c" $srcs "$out/no_runtime.c" -lm -lpthread -o "$out/lang_bench"
echo "== hellodl (best of 5) =="
"$out/lang_bench" | grep -v '^loop sum\|^fib '
echo "== CPython $(python3 -c 'import sys; print(sys.version.split()[0])') (best of 5) =="
python3 - <<'PY'
import time
def best(f, reps=5):
    b = 1e9
    for _ in range(reps):
        t = time.perf_counter(); f(); b = min(b, time.perf_counter() - t)
    return b
def loop():
    s = 0
    for i in range(10000000):
        s = s + i * 3 % 7
    assert s == 30000000
def fib(n):
    if n < 2: return n
    return fib(n - 1) + fib(n - 2)
print("%-28s %9.1f ms" % ("python loop 1e7", best(loop) * 1e3))
print("%-28s %9.1f ms" % ("python fib(27)", best(lambda: fib(27)) * 1e3))
PY
