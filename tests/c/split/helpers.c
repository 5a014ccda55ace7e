/* Split program, part 2: global helpers taking packet pointers, a const table in
 * .rodata, a static function and a static variable sharing names with main.c, and a
 * helper nobody calls. */
#include "split.h"

static const __u32 table[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static __u32 calls;                        /* .bss; main.c has its own `calls` */

/* Same name as the static mix() in main.c, different body. */
static __attribute__((noinline)) __u32 mix(__u32 a, __u32 b)
{
	calls += 2;
	return (a + 0x9e3779b9u) ^ (b << 7) ^ (b >> 3) ^ calls;
}

/* libbpf-style bounded loop over packet bytes. */
HELPER __attribute__((noinline)) __u32 checksum_bytes(void *data, void *data_end)
{
	__u8 *p = data;
	__u32 sum = 0;
	int i;

	for (i = 0; i < 16; i++) {
		if ((void *)(p + 1) > data_end)
			break;
		sum = sum * 31 + *p;
		p++;
	}
	return mix(sum, i);
}

/* A 14-byte header, then up to 8 type-length options of variable stride. */
HELPER __attribute__((noinline)) int parse_header(void *data, void *data_end, struct flow_stats *st)
{
	__u8 *p = data;
	__u32 acc = 0;
	int i;

	if ((void *)(p + 14) > data_end)
		return -1;
	st->first_word = (__u16)(p[0] << 8 | p[1]);
	st->tag = p[0];
	p += 14;
	for (i = 0; i < 8; i++) {
		if ((void *)(p + 2) > data_end)
			break;
		acc = acc * 17 + p[0];
		p += 2 + (p[1] & 7);
	}
	st->options = i;
	st->opt_acc = acc;
	return 0;
}

HELPER __u32 table_mix(__u32 x)
{
	return table[x & 15] ^ (table[(x >> 4) & 15] >> 1) ^ (table[(x >> 8) & 15] << 1);
}

/* Global, never called, not a program: the linker must drop it. */
int unused_helper(int x)
{
	return x * 3 + calls;
}
