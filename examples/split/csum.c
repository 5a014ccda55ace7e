#include <linux/bpf.h>

__u32 checksum(void *data, void *data_end, int len)
{
	unsigned char *p = data;
	__u32 sum = 0;

	for (int i = 0; i < 16 && i < len; i++) {
		if (p + i + 1 > (unsigned char *)data_end)
			break;
		sum += p[i];
	}
	return sum;
}

// Not exported and not called: the linker removes it.
__u32 unused_checksum(__u32 x) { return x * 31; }
