/* Copies of constant data: string initializers, a constant struct, a string into a map
 * value, a slice of a static table, bpf_printk with global data. */
#include "quality.h"

char LICENSE[] SEC("license") = "GPL";

struct cfg {
	__u32 a, b, c, d, e, f, g, h, i, j;
};

struct named {
	__u32 id;
	char name[20];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct named);
} str_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cfg);
} str_cfgs SEC(".maps");

/* A 16-byte name, 4 bytes of it then overwritten from the packet. */
SEC("tc")
int str_name_prog(struct __sk_buff *skb)
{
	char name[16] = "eth-probe";

	if (bpf_skb_load_bytes(skb, 2, name + 10, 4))
		return -1;
	return csum(name, sizeof(name));
}

/* A constant struct initializer (clang copies it from __const.*), stored in a map. */
SEC("tc")
int str_cfg_prog(struct __sk_buff *skb)
{
	struct cfg c = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0x12345678};
	struct cfg *v;
	__u32 key = 0;

	c.b = skb->len;
	bpf_map_update_elem(&str_cfgs, &key, &c, BPF_ANY);
	v = bpf_map_lookup_elem(&str_cfgs, &key);
	if (!v)
		return -1;
	return csum(v, sizeof(*v)) + (v->j >> 16);
}

/* A string literal copied straight into a map value (not the stack). */
SEC("tc")
int str_map_prog(struct __sk_buff *skb)
{
	struct named *v;
	__u32 key = 0;

	v = bpf_map_lookup_elem(&str_names, &key);
	if (!v)
		return -1;
	v->id = skb->len;
	__builtin_memcpy(v->name, "a-constant-name!xyz", 20);
	return v->id + csum(v->name, sizeof(v->name));
}

/* Eight bytes of a static table at a constant offset. */
SEC("tc")
int str_slice_prog(struct __sk_buff *skb)
{
	static const char table[] = "0123456789abcdefghijklmnopqrstuv";
	char buf[8];

	__builtin_memcpy(buf, table + 5, sizeof(buf));
	if (bpf_skb_load_bytes(skb, 0, buf + 6, 1))
		return -1;
	return csum(buf, sizeof(buf));
}

/* bpf_printk with global data: the format stays in .rodata, nothing is copied. */
SEC("tc")
int str_printk_prog(struct __sk_buff *skb)
{
	bpf_printk("str_printk_prog: %u bytes\n", skb->len);
	return skb->len * 3;
}
