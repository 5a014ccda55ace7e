/* Loops program, part 2: noinline helpers, one looping over packet data, one with a
 * fixed-count loop clang -O2 does not unroll by itself. */
#include "loops.h"

/* Sum 16-bit words of the first 32 bytes after the Ethernet header. */
HELPER __attribute__((noinline)) __u32 scan_words(void *data, void *data_end)
{
	__u16 *w = (__u16 *)((__u8 *)data + 14);
	__u32 sum = 0;
	int i;

	for (i = 0; i < 16; i++) {
		if ((void *)(w + 1) > data_end)
			break;
		sum += *w;
		w++;
	}
	return (sum & 0xffff) + (sum >> 16);
}

/* FOLD_ROUNDS iterations of a hash with no closed form: too big for clang -O2's
 * full-unroll threshold, so a backward jump remains; --unroll-loops removes it. */
HELPER __attribute__((noinline)) __u32 fold_hash(__u32 h, __u32 x)
{
	int i;

	for (i = 0; i < FOLD_ROUNDS; i++) {
		h ^= x + i;
		h *= 0x01000193u;
		h ^= h >> 13;
		x = (x << 5) | (x >> 27);
	}
	return h;
}
