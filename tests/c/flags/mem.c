/* Struct memcpy (map value -> stack) and struct memset for the memcpy/memset flags:
 * mem_prog returns 3 + 2 * skb->len. */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

struct rec {
	__u64 a, b, c, d, e;
	__u32 f, g;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec);
} rec_map SEC(".maps");

SEC("tc")
int mem_prog(struct __sk_buff *skb)
{
	struct rec tmp, zero;
	struct rec *v;
	__u32 key = 0;

	__builtin_memset(&zero, 0, sizeof(zero));
	zero.f = skb->len;
	bpf_map_update_elem(&rec_map, &key, &zero, BPF_ANY);
	v = bpf_map_lookup_elem(&rec_map, &key);
	if (!v)
		return 1;
	__builtin_memcpy(&tmp, v, sizeof(tmp));   /* 48 bytes: six u64 loads/stores */
	tmp.a += 3;
	tmp.g = tmp.f * 2;
	bpf_map_update_elem(&rec_map, &key, &tmp, BPF_ANY);
	v = bpf_map_lookup_elem(&rec_map, &key);
	if (!v)
		return 2;
	return (int)(v->a + v->g + v->e);
}
