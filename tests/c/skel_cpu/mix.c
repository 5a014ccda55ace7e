/* CPU fixture, file 2: the hash step, a global function without a section. */
#include <linux/bpf.h>

__u32 cpu_mix(__u32 h, __u32 byte)
{
	return (h ^ byte) * 16777619u;
}
