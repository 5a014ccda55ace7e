/* CPU fixture, file 1: a tc program hashing packet bytes with 32-bit arithmetic and
 * 32-bit compares, which -mcpu=v3 code-generates as ALU32 and JMP32 instructions. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u32 cpu_mix(__u32 h, __u32 byte);

SEC("tc")
int cpu_prog(struct __sk_buff *skb)
{
	__u8 *p = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 h = 2166136261u;
	int i;

	for (i = 0; i < 32; i++) {
		if ((void *)(p + 1) > end)
			break;
		h = cpu_mix(h, *p);
		if (h < 0x10000000u)
			h += 0x07654321u;
		p++;
	}
	return h & 0x7fffffff;
}
