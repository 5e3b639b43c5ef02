#!/usr/bin/env bash
# Execute the notebooks headless (nbconvert --execute) with the kernel, write
# the executed notebooks and their HTML under out/, and print where they are,
# how long each took and its key figures (groups, validation accuracy,
# predictions). Usage: scripts/run-notebooks.sh [NOTEBOOK.ipynb ...]
#
# The kernelspec "hellodl" must be installed (scripts/setup.sh does it); with
# HELLODL_BIN=/path/to/hellodl that binary is installed into a temporary
# prefix and used instead, leaving the installed kernels alone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HELLODL_DATA_PATH:-}" ] && [ -d ../shared ]; then
  export HELLODL_DATA_PATH="$PWD/../shared/datasets:$PWD/../shared/weights"
fi
# Debian ships nbconvert as a module (python3-nbconvert), not always as a
# `jupyter nbconvert` command.
py=${HELLODL_PYTHON:-/usr/bin/python3}
kernel=hellodl
if [ -n "${HELLODL_BIN:-}" ]; then
  prefix=$(mktemp -d)
  trap 'rm -rf "$prefix"' EXIT
  "$HELLODL_BIN" install --prefix "$prefix" --name hellodl-run >/dev/null
  export JUPYTER_PATH="$prefix/share/jupyter"
  kernel=hellodl-run
fi
if [ $# -eq 0 ]; then
  set -- notebooks/hello.ipynb notebooks/hello-world-cpu.ipynb \
    notebooks/hello-world-deep-learning.ipynb notebooks/your-own-data.ipynb
fi
mkdir -p out
status=0
summary=()
for nb in "$@"; do
  name=$(basename "$nb" .ipynb)
  start=$(date +%s%N)
  if "$py" -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
       --ExecutePreprocessor.kernel_name="$kernel" --output-dir out --output "$name" \
       "$nb" >"out/$name.log" 2>&1; then
    result="executed"
  else
    result="FAILED (see out/$name.log)"
    status=1
  fi
  end=$(date +%s%N)
  seconds=$(( (end - start) / 1000000000 ))
  if [ -f "out/$name.ipynb" ]; then
    "$py" -m nbconvert --to html --output-dir out "out/$name.ipynb" >/dev/null 2>&1 || true
  fi
  echo "== $nb: $result in ${seconds} s -> out/$name.ipynb, out/$name.html"
  summary+=("$nb: $result in ${seconds} s")
  if [ -f "out/$name.ipynb" ]; then
    "$py" scripts/show-outputs.py --summary "out/$name.ipynb"
  fi
done
echo "== Summary"
printf '  %s\n' "${summary[@]}"
echo "Executed notebooks and HTML are in $PWD/out/"
exit $status
