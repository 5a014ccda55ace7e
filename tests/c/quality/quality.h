/* Shared by the tests/c/quality programs (tests/test_expand_quality.py, tools/bench_quality.py). */
#ifndef QUALITY_H
#define QUALITY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Position-weighted byte sum: what the tests' models compute for a buffer. */
static __always_inline int csum(const void *buf, int n)
{
	const unsigned char *p = buf;
	int s = 0;

	for (int i = 0; i < n; i++)
		s += p[i] * (i + 1);
	return s;
}

#endif
