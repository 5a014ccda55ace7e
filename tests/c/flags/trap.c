/* An explicit __builtin_trap() (llvm.trap): LLVM 21+ always calls __bpf_trap for it. */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int trap_prog(struct __sk_buff *skb)
{
	if (skb->len == 7)
		__builtin_trap();
	return skb->len & 0xff;
}
