#!/usr/bin/env bash
# Execute the notebooks headless with the installed kernel, write the
# executed notebooks and their HTML under out/, and print their outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HELLODL_DATA_PATH:-}" ] && [ -d ../shared ]; then
  export HELLODL_DATA_PATH="$PWD/../shared/datasets:$PWD/../shared/weights"
fi
mkdir -p out
for nb in notebooks/hello.ipynb; do
  name=$(basename "$nb" .ipynb)
  start=$(date +%s%N)
  jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
    --output-dir out --output "$name" "$nb"
  jupyter nbconvert --to html --output-dir out "out/$name.ipynb" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "== $nb: executed in $(( (end - start) / 1000000 )) ms -> out/$name.ipynb, out/$name.html"
  /usr/bin/python3 scripts/show-outputs.py "out/$name.ipynb"
done
