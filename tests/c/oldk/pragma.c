/* A fixed-count loop the user asked LLVM not to unroll: --unroll-loops keeps it and
 * must say so (the line marked LOOP-HERE). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int pragma_prog(struct __sk_buff *skb)
{
	__u32 h = skb->len, i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 20; i++) /* LOOP-HERE */
		h = (h ^ i) * 16777619u;
	return h & 0xffff;
}
