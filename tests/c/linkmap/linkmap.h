/* The link-map program: a tc program in main.c, helpers in util.c, two archive members. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern __u32 counter;
__u32 util_mix(__u32 a, __u32 b);
__u32 lib_add(__u32 a, __u32 b);
__u32 lib_count(__u32 key);
