/* Version fixture: a different version value (5.10) under another symbol name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 _version SEC("version") = 0x050a00;

__u32 ver_step(__u32 x)
{
	return x * 3 + 7;
}
