#!/usr/bin/env bash
# Build the split example: C -> bitcode with clang-16, helpers in an archive, one
# bpf-linker call, then (as root) load it into the kernel and run it on a packet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/build}
mkdir -p "$out"
CFLAGS="-g -O2 -target bpf -I/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
for f in main parse csum; do
  clang-16 $CFLAGS -emit-llvm -c "$here/split/$f.c" -o "$out/$f.bc"
done
rm -f "$out/libcsum.a"
llvm-ar-16 rcs "$out/libcsum.a" "$out/csum.bc"

# The linker tools/setup.sh installed (in .venv), else the one on PATH.
linker=${BPF_LINKER:-$here/../.venv/bin/bpf-linker}
[ -x "$linker" ] || linker=bpf-linker
"$linker" -o "$out/split.o" "$out/main.bc" "$out/parse.bc" "$out/libcsum.a"
echo "linked $out/split.o"
bpftool btf dump file "$out/split.o" | grep "FUNC '" || true

if [ "$(id -u)" = 0 ] && command -v bpftool >/dev/null; then
  pin=/sys/fs/bpf/bpf_linker_example_$$
  trap 'rm -f "$pin"' EXIT
  bpftool prog load "$out/split.o" "$pin"
  printf '\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10' > "$out/packet.bin"
  # header 0x0102 = 258, checksum of bytes 1..16 = 136: expect 394
  bpftool prog run pinned "$pin" data_in "$out/packet.bin" repeat 1
fi
