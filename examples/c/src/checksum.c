#include "common.h"

/* Takes packet pointers: the linker inlines it into its caller in main.c, or makes it static
   in BTF, so the verifier checks it in the caller's context (a global function is verified
   alone, without the caller's packet bounds, and rejected). */
__u32 payload_sum(const __u8 *payload, const void *data_end)
{
	__u32 sum = 0;

	for (int i = 0; i < PAYLOAD_BYTES; i++) {
		if ((const void *)(payload + i + 1) > data_end)
			break;
		sum += payload[i] * (i + 1);
	}
	return sum;
}
