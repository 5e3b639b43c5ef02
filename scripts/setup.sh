#!/usr/bin/env bash
# Set up everything on a Debian machine and run the main job:
# Debian packages, a Release build, `make install` into /usr/local, the
# kernelspec, then the module's notebooks executed headless with nbconvert.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
$sudo cmake --install build
$sudo /usr/local/bin/hellodl install
jupyter kernelspec list
exec bash scripts/run-notebooks.sh
