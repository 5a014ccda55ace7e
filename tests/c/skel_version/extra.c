/* Version fixture, file 2: the same version and license values under other symbol
 * names, and the helper the program calls. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060000;

__u32 ver_step(__u32 x)
{
	return x * 3 + 7;
}
