/* Compiled alone, classify() is already at instcombine's fixpoint; inlined into
 * fixpoint_prog() at link time, its `v < 128` meets the caller's zero-extended byte, and
 * LLVM 18+ instcombine needs a second iteration (tests/test_optimize_versions.py). */
#include <linux/bpf.h>

int classify(struct __sk_buff *skb, int v)
{
	if (v < 128) {
		skb->mark = v;
		return v;
	}
	return 0;
}
