#include "common.h"

int parse_ethertype(const void *data, const void *data_end, __u16 *ethertype)
{
	const struct ethhdr *eth = data;

	if ((const void *)(eth + 1) > data_end)
		return -1;
	*ethertype = bpf_ntohs(eth->h_proto);
	return 0;
}
