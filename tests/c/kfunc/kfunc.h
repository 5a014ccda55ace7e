/* Shared declarations of the kfunc/ksym/kconfig program (main.c + helper.c). */
#ifndef KFUNC_H
#define KFUNC_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef HELPER
#define HELPER
#endif

/* libbpf >= 1.2 has this in bpf_helpers.h; Debian 12 ships libbpf 1.1. */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) ({ \
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
	!!sym; \
})
#endif

#ifndef __kconfig
#define __kconfig __attribute__((section(".kconfig")))
#endif

HELPER __u32 kernel_major(void);

#endif
