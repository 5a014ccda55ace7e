/* Version fixture, file 1: the program, `version` under the symbol VERSION and the
 * license under LICENSE (extra.c names them _version and _license). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";
__u32 VERSION SEC("version") = 0x060000;

__u32 ver_step(__u32 x);

SEC("tc")
int ver_prog(struct __sk_buff *skb)
{
	return ver_step(skb->len);
}
