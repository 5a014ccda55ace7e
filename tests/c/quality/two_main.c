/* The program of the two-file build: a map value built on the stack by another file's helpers.
 * Returns len + seq + csum(tag) + csum(src) of the stored sample. */
#include "two.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample);
} two_samples SEC(".maps");

SEC("tc")
int two_prog(struct __sk_buff *skb)
{
	struct sample s, *v;
	char src[8];
	__u32 key = 0;

	sample_init(&s, skb->len);
	if (bpf_skb_load_bytes(skb, 4, src, sizeof(src)))
		return -1;
	sample_copy(&s, src);
	s.seq = 7;
	bpf_map_update_elem(&two_samples, &key, &s, BPF_ANY);
	v = bpf_map_lookup_elem(&two_samples, &key);
	if (!v)
		return -1;
	return v->len + v->seq + csum(v->tag, sizeof(v->tag)) + csum(v->src, sizeof(v->src));
}
