/* A 2 KiB memcpy between two global arrays: too big for the BPF backend to expand,
 * so codegen reports "A call to built-in function 'memcpy' is not supported." */
#include "flags.h"

char LICENSE[] SEC("license") = "GPL";

__u64 src_buf[256];
__u64 dst_buf[256];

SEC("tc")
int bigcopy_prog(struct __sk_buff *skb)
{
	src_buf[skb->len & 255] = skb->len;
	__builtin_memcpy(dst_buf, src_buf, sizeof(dst_buf));
	return (int)dst_buf[3];
}
