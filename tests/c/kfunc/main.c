/* Externs the linker must leave undefined for libbpf to resolve at load time: a kfunc
 * (strong), a kfunc that does not exist (weak, guarded by bpf_ksym_exists), and a
 * typeless weak ksym. helper.c adds a .kconfig extern. */
#include "kfunc.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_linker_test_no_such_kfunc(__u64 x) __ksym __weak;
extern const void _stext __ksym __weak;

SEC("tc")
int kfunc_prog(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;
	__u8 b = 0;
	__u32 result = kernel_major() * 1000;

	if (bpf_ksym_exists(bpf_linker_test_no_such_kfunc))
		result += 100 + bpf_linker_test_no_such_kfunc(skb->len);
	if (&_stext)
		result += 10;
	if (skb->len > 20 && bpf_dynptr_from_skb(skb, 0, &ptr) == 0 &&
	    bpf_dynptr_read(&b, 1, &ptr, 20, 0) == 0)
		result += 1 + b;
	return result;
}
