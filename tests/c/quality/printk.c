/* bpf_printk under BPF_NO_GLOBAL_DATA: each format is built on the stack from constants. */
#define BPF_NO_GLOBAL_DATA
#include "quality.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int printk_prog(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	bpf_printk("printk_prog: len=%u\n", len);
	bpf_printk("printk_prog: a somewhat longer format, %u and %u\n", len, len * 2);
	bpf_printk("short\n");
	return len + 7;
}
