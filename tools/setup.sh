#!/usr/bin/env bash
# Install what bpf-linker and its tests need on a fresh Debian 12 machine (run as root):
# libLLVM 16 and 22 (19 too), clang-16/19 and llvm-16 tools for fixtures, bpftool, libbpf
# headers; then the package itself (editable) with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
packages="libllvm16 llvm-16 clang-16 libllvm19 clang-19 libllvm22 bpftool libbpf-dev"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q $missing
fi
python3 -m pip install -q --disable-pip-version-check -e ".[test,man]"
