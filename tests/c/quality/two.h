/* The two-file program of tests/c/quality: two_main.c calls the helpers of two_helpers.c. */
#ifndef TWO_H
#define TWO_H

#include "quality.h"

#ifndef HELPER
#define HELPER
#endif

struct sample {
	__u64 ts;
	__u32 len;
	__u32 seq;
	char tag[12];
	char src[8];
};

HELPER void sample_init(struct sample *s, __u32 len);
HELPER void sample_copy(struct sample *s, const char *from);

#endif
