/* A loop whose trip count comes from the packet: no unrolling can remove it, so
 * --unroll-loops must fail naming its source line (the line marked LOOP-HERE). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int varloop_prog(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *p = data;
	__u32 h = 0, n, i;

	if ((void *)(p + 16) > data_end)
		return 0;
	n = skb->len;
	for (i = 0; i < n; i++) /* LOOP-HERE */
		h = h * 31 + p[1 + (i & 7)];
	return h;
}
