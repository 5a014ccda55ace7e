#include <linux/bpf.h>

// Non-static, takes packet pointers: bpf-linker makes it static in BTF so the
// verifier checks it in its caller's context.
int parse_header(void *data, void *data_end, __u32 *out)
{
	unsigned char *p = data;

	if (p + 2 > (unsigned char *)data_end)
		return -1;
	*out = (p[0] << 8) | p[1];
	return 0;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
