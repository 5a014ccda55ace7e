/* A map libbpf would pin under /sys/fs/bpf (LIBBPF_PIN_BY_NAME): --verify must load the
 * program with it and leave no pin behind. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} oldk_pinned_map SEC(".maps");

SEC("tc")
int pinned_prog(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&oldk_pinned_map, &key);

	if (count)
		__sync_fetch_and_add(count, skb->len);
	return 0;
}
