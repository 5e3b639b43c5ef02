#!/usr/bin/env bash
# Install the Debian packages hellodl builds, tests and runs with.
# Quick when they are already there: apt-get runs only for missing ones.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libzmq3-dev libjansson-dev libssl-dev libpng-dev libhdf5-dev libopenblas-dev
  libcurl4-openssl-dev libarchive-dev
  clang libclang-rt-14-dev
  python3 python3-jupyter-client jupyter-client python3-jupyter-kernel-test python3-nbclient
  python3-nbconvert jupyter-nbconvert python3-ipykernel jupyter-console python3-notebook
  python3-numpy python3-h5py python3-torch python3-torchvision
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
