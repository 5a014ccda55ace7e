/* Programs the verifier takes a while to accept (it walks every iteration of their loops):
 * an interrupted --verify must still leave nothing in the kernel. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOW_PROG(name, seed)						\
	SEC("tc")							\
	int name(struct __sk_buff *skb)					\
	{								\
		__u32 h = skb->len + (seed);				\
		int i;							\
									\
		for (i = 0; i < 7000; i++) {				\
			h = h * 31 + i;					\
			if (h == 12345)					\
				break;					\
		}							\
		return h & 0xff;					\
	}

SLOW_PROG(slow_prog_a, 1)
SLOW_PROG(slow_prog_b, 2)
SLOW_PROG(slow_prog_c, 3)
SLOW_PROG(slow_prog_d, 4)
SLOW_PROG(slow_prog_e, 5)
SLOW_PROG(slow_prog_f, 6)
