/* mix() for prog.c: a global function in another file, inlined by the linker. */
#include "flags.h"

__u32 mix(__u32 a, __u32 b)
{
	return (a * 31 + b) ^ (a >> 3);
}
