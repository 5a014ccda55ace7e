/* Stack objects zeroed, filled, copied and moved, and map values built on the stack. */
#include "quality.h"

char LICENSE[] SEC("license") = "GPL";

struct rec {
	__u64 a;
	__u32 b;
	__u16 c;
	char name[10];
	char tail[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec);
} stack_recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[24]);
} stack_bufs SEC(".maps");

/* char comm[16] = {}: clang's object zeroes it with two 8-byte stores. */
SEC("tc")
int stack_zero_prog(struct __sk_buff *skb)
{
	char comm[16] = {};

	if (bpf_skb_load_bytes(skb, 2, comm + 3, 5))
		return -1;
	return csum(comm, sizeof(comm));
}

/* A non-zero memset, then part of it overwritten. */
SEC("tc")
int stack_fill_prog(struct __sk_buff *skb)
{
	char buf[24];
	__u32 key = 0;
	char *v;

	__builtin_memset(buf, 0xa5, sizeof(buf));
	if (bpf_skb_load_bytes(skb, 1, buf + 4, 3))
		return -1;
	bpf_map_update_elem(&stack_bufs, &key, buf, BPF_ANY);
	v = bpf_map_lookup_elem(&stack_bufs, &key);
	if (!v)
		return -1;
	return csum(v, 24);
}

/* A memset with a byte known only at run time. */
SEC("tc")
int stack_splat_prog(struct __sk_buff *skb)
{
	char buf[12];

	__builtin_memset(buf, skb->len & 0x7f, sizeof(buf));
	if (bpf_skb_load_bytes(skb, 0, buf + 9, 1))
		return -1;
	return csum(buf, sizeof(buf));
}

/* Stack to stack: a packet prefix copied between two char arrays. */
SEC("tc")
int stack_copy_prog(struct __sk_buff *skb)
{
	char a[16], b[16];
	__u32 key = 0;
	char *v;

	if (bpf_skb_load_bytes(skb, 0, a, sizeof(a)))
		return -1;
	__builtin_memcpy(b, a, sizeof(b));
	b[3] ^= 1;
	bpf_map_update_elem(&stack_bufs, &key, b, BPF_ANY);
	v = bpf_map_lookup_elem(&stack_bufs, &key);
	if (!v)
		return -1;
	return csum(v, 16) + a[3];
}

/* An overlapping move inside one stack buffer. */
SEC("tc")
int stack_move_prog(struct __sk_buff *skb)
{
	char a[24];
	__u32 key = 0;
	char *v;

	if (bpf_skb_load_bytes(skb, 8, a, sizeof(a)))
		return -1;
	__builtin_memmove(a + 4, a, 12);
	bpf_map_update_elem(&stack_bufs, &key, a, BPF_ANY);
	v = bpf_map_lookup_elem(&stack_bufs, &key);
	if (!v)
		return -1;
	return csum(v, 24);
}

/* A map value built on the stack: zeroed, fields set, a name copied in. */
SEC("tc")
int stack_value_prog(struct __sk_buff *skb)
{
	struct rec r = {};
	struct rec *v;
	__u32 key = 0;

	r.a = skb->len;
	r.c = 0x1234;
	__builtin_memcpy(r.name, "record", 7);
	bpf_skb_load_bytes(skb, 0, r.tail, sizeof(r.tail));
	bpf_map_update_elem(&stack_recs, &key, &r, BPF_ANY);
	v = bpf_map_lookup_elem(&stack_recs, &key);
	if (!v)
		return -1;
	return (int)v->a + v->b + v->c + csum(v->name, sizeof(v->name)) + csum(v->tail, sizeof(v->tail));
}
