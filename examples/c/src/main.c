// The program: classify a frame by EtherType and a payload checksum, across four files.
#include "common.h"

/* A knob in .rodata: a loader sets it before load (skel->rodata->weight = 5). */
const volatile __u32 weight = 3;

SEC("tc")
int classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u16 ethertype;

	if (parse_ethertype(data, data_end, &ethertype) < 0)
		return 0;
	count_packet(ethertype);
	return ethertype * weight + payload_sum((const __u8 *)data + ETH_HLEN, data_end);
}

char LICENSE[] SEC("license") = "GPL";
