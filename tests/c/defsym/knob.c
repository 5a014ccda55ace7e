/* --defsym fixture: libbpf-style const volatile knobs guarding code, and globals --defsym refuses. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile int debug = 0;               /* guards the slow path below */
const volatile unsigned char level = 3;     /* an 8-bit knob */
const volatile char tag[8] = "knob";        /* not an integer */
__u32 written;                              /* the program writes it */

static __attribute__((always_inline)) __u32 slow_path(__u32 x)
{
#pragma unroll
	for (int i = 0; i < 24; i++)
		x = (x * 31 + (x >> 3)) ^ (i * 0x9e3779b9u);
	return x;
}

SEC("tc")
int knob_prog(struct __sk_buff *skb)
{
	__u32 x = skb->len;

	if (debug)
		x = slow_path(x) + tag[0];
	written = x;
	return (x + level) & 0xff;
}
