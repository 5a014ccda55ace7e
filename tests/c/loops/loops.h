/* Shared declarations of the loops program (parser.c + util.c). */
#ifndef LOOPS_H
#define LOOPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Empty in the multi-file build; ref.c defines it as `static`. */
#ifndef HELPER
#define HELPER
#endif

#define FOLD_ROUNDS 48

/* noinline on purpose: --ignore-inline-never must let the linker inline them. */
HELPER __attribute__((noinline)) __u32 scan_words(void *data, void *data_end);
HELPER __attribute__((noinline)) __u32 fold_hash(__u32 h, __u32 x);

#endif
