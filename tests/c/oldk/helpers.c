/* Old-kernel program, part 2: noinline helpers holding loops. The trip counts of
 * hash_bytes, mix_rounds and first_zero come from their callers in main.c;
 * fold_bits has a fixed count too large for clang -O2 to unroll by itself. */
#include "oldk.h"

__u32 hash_bytes(const __u8 *p, int n)
{
	__u32 h = 2166136261u;
	int i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

__u32 mix_rounds(__u32 h, __u32 x, int rounds)
{
	int i;

	for (i = 0; i < rounds; i++) {
		h ^= x + i;
		h = (h << 7) | (h >> 25);
		x = x * 5 + 1;
	}
	return h;
}

__u32 fold_bits(__u32 h)
{
	__u32 acc = 0;
	int i;

	for (i = 0; i < 40; i++) {
		acc += (h >> (i & 31)) & 1;
		acc = (acc << 3) ^ (acc >> 2) ^ i;
	}
	return acc;
}

/* Index of the first zero byte among the first `limit`, or `limit`: an early exit,
 * bounded by a constant once inlined (LLVM's upper-bound unrolling). */
int first_zero(const __u8 *p, int limit)
{
	int i;

	for (i = 0; i < limit; i++)
		if (p[i] == 0)
			break;
	return i;
}
