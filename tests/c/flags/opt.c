/* Compiled unoptimized (clang -O2 -Xclang -disable-llvm-passes: no optnone, no
 * noinline, no unroll.disable) so the linker runs LLVM's full default<Ox>: the
 * 16-round loop is fully unrolled at -O3 only. opt_prog's result does not depend on -O. */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

static __u32 step(__u32 h, __u32 x)
{
	h ^= x;
	h *= 0x01000193u;
	h ^= h >> 13;
	h += x << 3;
	h ^= h >> 7;
	h *= 0x2545f491u;
	return h;
}

SEC("tc")
int opt_prog(struct __sk_buff *skb)
{
	__u32 h = skb->len;

	for (int i = 0; i < 16; i++)
		h = step(h, (__u32)i * 3u + skb->protocol);
	h = step(h, skb->mark);
	h = step(h, skb->priority);
	return h & 0x7fffffff;
}
