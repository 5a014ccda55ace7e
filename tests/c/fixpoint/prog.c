/* A tc program whose call into classify.c the post-link pipeline inlines. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int classify(struct __sk_buff *skb, int v);

SEC("tc")
int fixpoint_prog(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 1 > end)
		return 0;
	return classify(skb, data[0]);
}

char LICENSE[] SEC("license") = "GPL";
