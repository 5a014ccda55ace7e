/* Split program, part 1: the tc program, a BTF-defined map, .bss/.data/.rodata globals,
 * a kfunc, and a static function whose name helpers.c also uses. */
#include "split.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct flow_stats);
} stats_map SEC(".maps");

__u32 packets_seen;                        /* .bss */
__u32 seed = 0x2545f491;                   /* .data */
const volatile __u32 salt = 0x5bd1e995;    /* .rodata */
static __u32 calls;                        /* .bss; helpers.c has its own `calls` */

/* A kernel function (kfunc); only the packets tagged 0xAA reach the call. */
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;

/* Same name as the static mix() in helpers.c, different body. */
static __attribute__((noinline)) __u32 mix(__u32 a, __u32 b)
{
	calls++;
	return (a ^ b) * 0x01000193u + calls;
}

SEC("tc")
int split_prog(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct flow_stats st, copy;
	struct flow_stats *old;
	__u32 key, result;

	__builtin_memset(&st, 0, sizeof(st));
	if (parse_header(data, data_end, &st) < 0)
		return 1;
	st.bytes = skb->len;
	st.sum = checksum_bytes(data, data_end);

	key = st.tag & 3;
	old = bpf_map_lookup_elem(&stats_map, &key);
	if (!old)
		return 2;
	__builtin_memcpy(&copy, old, sizeof(copy));   /* map value -> stack */
	copy.bytes += st.bytes;
	copy.sum ^= st.sum;
	copy.first_word = st.first_word;
	copy.tag = st.tag;
	copy.options = st.options;
	copy.opt_acc += st.opt_acc;
	copy.hist[0] += st.tag;
	copy.hist[3] += 1;
	bpf_map_update_elem(&stats_map, &key, &copy, BPF_ANY);

	old = bpf_map_lookup_elem(&stats_map, &key);
	if (!old)
		return 3;
	packets_seen++;
	result = mix(old->sum, salt) ^ table_mix(old->first_word) ^ seed;
	result += old->bytes * 7 + old->opt_acc * 13 + old->options + (__u32)(old->hist[0] + old->hist[3]);
	result += packets_seen * 1000;

	if (st.tag == 0xAA) {
		struct bpf_dynptr ptr;
		__u8 buf[4] = {};

		/* The last 4 bytes: nothing else in the program reads them. */
		if (bpf_dynptr_from_skb(skb, 0, &ptr) == 0 &&
		    bpf_dynptr_read(buf, sizeof(buf), &ptr, skb->len - 4, 0) == 0)
			result ^= (__u32)buf[0] | (__u32)buf[1] << 8 | (__u32)buf[2] << 16 | (__u32)buf[3] << 24;
		else
			result ^= 0x40000000;
	}
	return result & 0x7fffffff;
}
