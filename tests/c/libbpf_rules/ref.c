/* Single-file equivalent of a.c + b.c + c.c keeping only the definitions libbpf's
 * rules select: strong over weak, the first of two weak ones. Cross-checks the value
 * `bpftool gen object` (libbpf's static linker) gives for the three objects. */
#include "rules.h"

char LICENSE[] SEC("license") = "GPL";

SHARED_MAP_DEF;

int pick(void) { return 2; }      /* b.c */
int flavor(void) { return 3; }    /* a.c */
int tie(void) { return 1; }       /* b.c, first weak */
__u32 config = 6;                 /* c.c */
__u32 level = 7;                  /* a.c */

int note(__u32 x)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_map, &key);

	if (!v)
		return 99;
	*v += 10 * x;
	return (int)*v;
}

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
	m = note(2);
	return 1000000 * pick() + 100000 * flavor() + 10000 * config + 1000 * level +
	       100 * tie() + m;
}
