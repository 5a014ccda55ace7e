#!/usr/bin/env bash
# Install what bpf-linker and its tests need on a fresh Debian 12 machine (run as root):
# libLLVM 16 and 22 (19 too), clang-16/19 and llvm-16 tools for fixtures, bpftool, libbpf
# headers, gcc; then the package itself (editable, with its test extras) into a virtual
# environment, .venv in the checkout. A virtual environment works with any python3,
# including Debian's own, which refuses `pip install` outside one (PEP 668).
# Safe to run again; run it from anywhere. PYTHON=/path/to/python3 picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=.venv

packages="libllvm16 llvm-16 clang-16 libllvm19 clang-19 libllvm22 bpftool libbpf-dev libbpf1 gcc libc6-dev"
# Debian's python3 needs python3-venv (ensurepip) to create a virtual environment.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages="$packages python3-venv"
fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q $missing
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,man]"
# Bytecode for the checkout's modules (an editable install runs them from here): with
# PYTHONDONTWRITEBYTECODE set, as on many build machines, every run would compile them again.
"$venv/bin/python" -m compileall -q bpf_linker passes bindings >/dev/null
echo "bpf-linker installed in $(pwd)/$venv: run $venv/bin/bpf-linker, or activate it with . $venv/bin/activate"
