// A tc program split over several files: the program and its map live here,
// the parsing helpers in parse.c and the checksum in libcsum.a (csum.c).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int parse_header(void *data, void *data_end, __u32 *out);  // parse.c
__u32 checksum(void *data, void *data_end, int len);       // csum.c, from libcsum.a

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("tc")
int count_and_sum(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 key = 0, header = 0;
	__u64 *seen = bpf_map_lookup_elem(&packets, &key);

	if (seen)
		__sync_fetch_and_add(seen, 1);
	if (parse_header(data, data_end, &header) < 0)
		return -1;
	return header + checksum(data, data_end, 16);
}

char LICENSE[] SEC("license") = "GPL";
