/* What the files of the example share: kernel and libbpf headers, and the cross-file calls. */
#pragma once
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define PAYLOAD_BYTES 16

/* parse.c: the EtherType of an Ethernet frame, -1 if the frame is too short. */
int parse_ethertype(const void *data, const void *data_end, __u16 *ethertype);

/* checksum.c: sum of payload[i] * (i + 1) over the first PAYLOAD_BYTES bytes there are. */
__u32 payload_sum(const __u8 *payload, const void *data_end);

/* stats.c: count a frame of this EtherType (in a map, and in a global user space reads). */
void count_packet(__u32 ethertype);
