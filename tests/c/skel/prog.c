/* Skeleton fixture, file 1: two programs, a map, .rodata knobs, .bss/.data outputs,
 * a __weak global calc.c overrides, a strong one overriding calc.c's __weak, externs. */
#include "skel.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

const volatile __u32 mult = 1;          /* .rodata knob of skel_tc */
const volatile __u8 mode = 0;           /* .rodata knob: 0 adds, 1 xors */
const volatile __u8 drop_tag = 0xff;    /* .rodata knob of skel_xdp */
__u32 out_sum;                          /* .bss, written by skel_tc */
__u32 xdp_seen;                         /* .bss, written by skel_xdp */
__u32 runs = 100;                       /* .data, incremented by skel_tc */
__u32 bias = 2;                         /* .data, strong: calc.c's __weak bias = 9 loses */
#ifndef SKEL_SINGLE_FILE
__weak __u32 scale = 3;                 /* .data, __weak: calc.c's strong scale = 5 wins */
#endif
static __u32 hits;                      /* static (calc.c has its own): not in the skeleton */

SEC("tc")
int skel_tc(struct __sk_buff *skb)
{
	__u8 *p = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 acc = 0, n = 0, key = 0;
	__u64 *total;
	int i;

	for (i = 0; i < 64; i++) {
		if (i >= limit || (void *)(p + 1) > end)
			break;
		acc = calc_fold(acc, *p, mode);
		p++;
		n++;
	}
	out_sum = acc * mult + scale;
	runs++;
	hits++;
	shared_total += n;
	calc_finish(out_sum, n);
	scale += 2;
	total = bpf_map_lookup_elem(&totals, &key);
	if (total)
		*total += skb->len;
	return (out_sum & 0xffff) | (hits << 16);
}

SEC("xdp")
int skel_xdp(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if ((void *)(p + 14) > end)
		return XDP_ABORTED;
	xdp_seen += (__u32)p[12] << 8 | p[13];
	return p[0] == drop_tag ? XDP_DROP : XDP_PASS;
}
