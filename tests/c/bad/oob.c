/* Reads packet data without a bounds check: the verifier must reject it. Used to check
 * that bpfkit.prog_run reports the verifier log. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int oob_prog(struct __sk_buff *skb)
{
	__u8 *p = (void *)(long)skb->data;

	return p[3];
}
