/* libbpf rules, file a: the program, an extern map, weak and strong definitions. */
#include "rules.h"

char LICENSE[] SEC("license") = "GPL";

extern SHARED_MAP_DEF;

__weak int pick(void) { return 1; }
int flavor(void) { return 3; }
__weak __u32 config = 5;
__u32 level = 7;

SEC("tc")
int rules_prog(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v;
	int m;

	v = bpf_map_lookup_elem(&shared_map, &key);
	if (!v)
		return -1;
	*v += 1;
	m = note(2);          /* b.c adds 10 * 2 to the same map value and returns it */
	return 1000000 * pick() + 100000 * flavor() + 10000 * config + 1000 * level +
	       100 * tie() + m;
}
