/* The main program of tests/test_flags.py: a tc program calling mix() from helper.c
 * twice (the post-link inliner inlines it), u32 compares (jmp32 with alu32) and a
 * signed byte load (a sign-extending load with --cpu v4), plus two global functions
 * that nothing calls and no section keeps: they vanish unless exported. */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

extern __u32 mix(__u32 a, __u32 b);   /* helper.c */

int foo(int x)
{
	return x * 3 + 1;
}

int bar(int x)
{
	return x * 5 + 2;
}

SEC("tc")
int flags_prog(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *data_end = (void *)(long)skb->data_end;
	__u32 r;

	if (data + 8 > data_end)
		return 1;
	r = mix(data[0], data[1]) ^ mix(data[2], data[3]);
	if (r > 1000u)
		r -= 1000u;
	if ((__u32)skb->len < r)
		r += skb->len;
	r += (int)(signed char)data[4];
	return r & 0xffff;
}
