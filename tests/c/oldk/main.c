/* Old-kernel program, part 1: a tc program calling the loop helpers of helpers.c with
 * constant counts. Linked with --unroll-loops --ignore-inline-never --cpu v1 it must
 * keep no call, no loop and no ALU32/JMP32 instruction, and return what the default
 * build returns. */
#include "oldk.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int oldk_prog(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *p = data;
	__u32 h;

	if ((void *)(p + 14 + HDR_BYTES) > data_end)
		return 1;
	p += 14;
	h = hash_bytes(p, 16);
	h = mix_rounds(h, p[16], 12);
	h += fold_bits(h) << 8;
	h += first_zero(p + 17, 8);
	return h & 0x7fffffff;
}
