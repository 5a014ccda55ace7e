/* libbpf rules, file c: a strong config, a weak level and a second weak tie(). */
#include "rules.h"

char LICENSE[] SEC("license") = "GPL";

__u32 config = 6;
__weak __u32 level = 8;
__weak int tie(void) { return 2; }
