/* Version fixture: a different license string under another symbol name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "Dual BSD/GPL";

__u32 ver_step(__u32 x)
{
	return x * 3 + 7;
}
