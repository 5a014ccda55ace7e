/* Shared declarations of the skeleton fixture (prog.c + calc.c): the user-space
 * interface of a libbpf program lives in its global variables. */
#ifndef SKEL_FIXTURE_H
#define SKEL_FIXTURE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Empty in the two-file build: calc.c's helpers are global functions without a
 * section (the linker internalizes them). ref.c makes them `static`. */
#ifndef HELPER
#define HELPER
#endif

HELPER __u32 calc_fold(__u32 acc, __u32 byte, __u32 xor);
HELPER void calc_finish(__u32 sum, __u32 n);

/* Defined in calc.c, used in prog.c. */
extern const volatile __u32 limit;
extern __u32 shared_total;
/* Defined (__weak) in prog.c and (strong) in calc.c, or the other way round. */
extern __u32 scale;
extern __u32 bias;

#endif
