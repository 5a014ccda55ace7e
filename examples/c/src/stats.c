#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} packets_by_type SEC(".maps");

/* In .bss: user space reads it after a run (skel->bss->packets); stays global. */
__u64 packets;

void count_packet(__u32 ethertype)
{
	__u64 one = 1, *count = bpf_map_lookup_elem(&packets_by_type, &ethertype);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&packets_by_type, &ethertype, &one, BPF_NOEXIST);
	__sync_fetch_and_add(&packets, 1);
}
