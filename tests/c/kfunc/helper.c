/* A helper reading a .kconfig extern that libbpf fills in at load time. */
#include "kfunc.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

HELPER __u32 kernel_major(void)
{
	return LINUX_KERNEL_VERSION >> 16;
}
