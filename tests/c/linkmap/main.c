/* Link-map fixture, part 1: the program, a static noinline helper, a use of util.c's global. */
#include "linkmap.h"

char LICENSE[] SEC("license") = "GPL";

static __attribute__((noinline)) __u32 twice(__u32 x)
{
	return x * 2 + counter;
}

SEC("tc")
int map_prog(struct __sk_buff *skb)
{
	__u32 x = util_mix(skb->len, 7);

	counter += 1;
	x = lib_add(x, twice(x));
	return (x + lib_count(x & 1)) & 0xff;
}
