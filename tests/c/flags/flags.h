/* Shared by the tests/c/flags programs (tests/test_flags.py). */
#ifndef FLAGS_H
#define FLAGS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#endif
