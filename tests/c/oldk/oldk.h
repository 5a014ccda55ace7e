/* Shared declarations of the old-kernel program (main.c + helpers.c). */
#ifndef OLDK_H
#define OLDK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define HDR_BYTES 32

/* noinline and in another file: only --ignore-inline-never lets the linker inline
 * them, and only after inlining are their trip counts known. */
__attribute__((noinline)) __u32 hash_bytes(const __u8 *p, int n);
__attribute__((noinline)) __u32 mix_rounds(__u32 h, __u32 x, int rounds);
__attribute__((noinline)) __u32 fold_bits(__u32 h);
__attribute__((noinline)) int first_zero(const __u8 *p, int limit);

#endif
