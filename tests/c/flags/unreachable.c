/* An `unreachable` that survives optimization (a whole function body): LLVM 21+
 * lowers it to a call to the __bpf_trap kfunc unless --bpf-disable-trap-unreachable. */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int ok_prog(struct __sk_buff *skb)
{
	return skb->len & 0xff;
}

SEC("tc")
int unreach_prog(struct __sk_buff *skb)
{
	__builtin_unreachable();
}
