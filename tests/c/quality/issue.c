/* The program of issue 13: a zeroed struct, a char[16] copy and a bpf_printk under
 * BPF_NO_GLOBAL_DATA. Returns skb->len + csum(event.comm) of the event it stored. */
#define BPF_NO_GLOBAL_DATA
#include "quality.h"

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u32 len;
	__u64 ts;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} issue_events SEC(".maps");

SEC("tc")
int issue_prog(struct __sk_buff *skb)
{
	struct event e = {};
	char comm[16] = "quality-check";
	struct event *v;
	__u32 key = 0;

	e.len = skb->len;
	__builtin_memcpy(e.comm, comm, sizeof(comm));
	bpf_printk("issue_prog: a packet of %u bytes\n", skb->len);
	bpf_map_update_elem(&issue_events, &key, &e, BPF_ANY);
	v = bpf_map_lookup_elem(&issue_events, &key);
	if (!v)
		return -1;
	return v->len + v->pid + csum(v->comm, sizeof(v->comm));
}
