/* Skeleton fixture, file 2: global helper functions, .rodata knobs and a const table,
 * the strong scale, a __weak bias, the definitions of prog.c's externs, .data.custom. */
#include "skel.h"

const volatile __u32 limit = 16;        /* .rodata knob; prog.c reads it through extern */
const volatile __u32 rot = 0;           /* .rodata knob: rotate each folded value left */
const __u32 weights[4] = {3, 5, 7, 11}; /* .rodata, plain const */
__u32 scale = 5;                        /* .data, strong: beats prog.c's __weak scale = 3 */
#ifndef SKEL_SINGLE_FILE
__weak __u32 bias = 9;                  /* .data, __weak: prog.c's strong bias = 2 wins */
#endif
__u32 shared_total = 1000;              /* .data; prog.c adds to it through extern */
__u64 out_hash;                         /* .bss, written by calc_finish */
__u32 calc_calls;                       /* .bss */
__u32 custom_val SEC(".data.custom") = 11;
static __u32 hits;                      /* static (prog.c has its own) */

HELPER __u32 calc_fold(__u32 acc, __u32 byte, __u32 xor)
{
	__u32 r = rot & 31;
	__u32 v = byte * weights[byte & 3] * scale + bias;

	v = (v << r) | (v >> ((32 - r) & 31));
	calc_calls++;
	hits++;
	return xor ? acc ^ v : acc + v;
}

HELPER void calc_finish(__u32 sum, __u32 n)
{
	out_hash = ((__u64)sum << 32 | n) ^ ((__u64)hits << 8);
	custom_val += n;
}
