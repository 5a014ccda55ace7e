/* Shared declarations of the split program (main.c + helpers.c). */
#ifndef SPLIT_H
#define SPLIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Empty in the multi-file build: the helpers are global functions the linker must
 * internalize (and give static BTF linkage) so the verifier checks them in their
 * caller's context. ref.c defines it as `static` for the single-file reference. */
#ifndef HELPER
#define HELPER
#endif

struct flow_stats {
	__u32 bytes;
	__u32 sum;
	__u16 first_word;
	__u8 tag;
	__u8 options;
	__u32 opt_acc;
	__u64 hist[4];
};

/* All three take packet pointers and check bounds themselves. */
HELPER __u32 checksum_bytes(void *data, void *data_end);
HELPER int parse_header(void *data, void *data_end, struct flow_stats *st);
HELPER __u32 table_mix(__u32 x);

#endif
