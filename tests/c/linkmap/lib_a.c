/* Link-map fixture, archive member 1: a small function every caller inlines. */
#include "linkmap.h"

__u32 lib_add(__u32 a, __u32 b)
{
	return a + b;
}
