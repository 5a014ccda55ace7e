/* A helper too big for LLVM's inliner to copy into five call sites by itself: without
 * alwaysinline, removing noinline (upstream's --ignore-inline-never) leaves five calls. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ROUND(k) h ^= x + (k); h = (h << 7) | (h >> 25); x = x * 5 + (h >> 3);

__attribute__((noinline)) __u32 big_mix(__u32 h, __u32 x)
{
	ROUND(1) ROUND(2) ROUND(3) ROUND(4) ROUND(5) ROUND(6) ROUND(7) ROUND(8) ROUND(9) ROUND(10)
	ROUND(11) ROUND(12) ROUND(13) ROUND(14) ROUND(15) ROUND(16) ROUND(17) ROUND(18) ROUND(19)
	ROUND(20) ROUND(21) ROUND(22) ROUND(23) ROUND(24) ROUND(25) ROUND(26) ROUND(27) ROUND(28)
	return h ^ x;
}

SEC("tc")
int many_a(struct __sk_buff *skb)
{
	return big_mix(skb->len, 1) ^ big_mix(skb->mark, 2) ^ big_mix(skb->priority, 3); /* CALLS-HERE */
}

SEC("tc")
int many_b(struct __sk_buff *skb)
{
	return big_mix(skb->len, 4) ^ big_mix(skb->mark, 5);
}
