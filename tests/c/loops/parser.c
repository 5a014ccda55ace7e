/* Loops program, part 1: loops_prog parses packet data with libbpf-style bounded
 * loops and calls noinline helpers from util.c; unroll_prog runs only the fixed-count
 * loop of fold_hash(), so after --unroll-loops neither it nor fold_hash() may keep a
 * backward jump (the packet loops have no constant trip count and may stay loops). */
#include "loops.h"

char LICENSE[] SEC("license") = "GPL";

struct opt_hdr {
	__u8 kind;
	__u8 len;
};

SEC("tc")
int loops_prog(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct opt_hdr *opt;
	__u8 *p = data;
	__u32 acc = 0, kinds = 0;
	int i;

	if ((void *)(p + 14) > data_end)
		return 0;
	p += 14;
	/* Type-length options of variable length, at most 10. */
	for (i = 0; i < 10; i++) {
		opt = (struct opt_hdr *)p;
		if ((void *)(opt + 1) > data_end)
			break;
		if (opt->kind == 0)
			break;
		kinds |= 1u << (opt->kind & 31);
		acc = acc * 33 + opt->kind + opt->len;
		p += sizeof(*opt) + (opt->len & 15);
	}
	acc += i << 24;
	acc ^= scan_words(data, data_end);
	acc = fold_hash(acc, kinds);
	return acc & 0x7fffffff;
}

SEC("tc")
int unroll_prog(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 *w = data;

	if ((void *)(w + 2) > data_end)
		return 0;
	return fold_hash(w[0], w[1]) & 0x7fffffff;
}
