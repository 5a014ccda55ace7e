/* Link-map fixture, archive member 2: a BTF map and the noinline function that reads it. */
#include "linkmap.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} counts SEC(".maps");

__attribute__((noinline)) __u32 lib_count(__u32 key)
{
	__u32 *v = bpf_map_lookup_elem(&counts, &key);

	if (!v)
		return 0;
	*v += 1;
	return *v;
}
