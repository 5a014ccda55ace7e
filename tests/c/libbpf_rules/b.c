/* libbpf rules, file b: the map definition, a strong pick(), weak flavor() and tie(). */
#include "rules.h"

char LICENSE[] SEC("license") = "GPL";

SHARED_MAP_DEF;

int pick(void) { return 2; }
__weak int flavor(void) { return 4; }
__weak int tie(void) { return 1; }

int note(__u32 x)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_map, &key);

	if (!v)
		return 99;
	*v += 10 * x;
	return (int)*v;
}
