/* Link-map fixture, part 2: a global variable, a noinline helper, a function nobody calls. */
#include "linkmap.h"

__u32 counter;

__attribute__((noinline)) __u32 util_mix(__u32 a, __u32 b)
{
	return (a ^ b) * 31 + (a >> 3);
}

__u32 unused_fn(__u32 a)
{
	return a * 17;
}
