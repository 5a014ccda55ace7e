/* Shared declarations of the libbpf-rules program (a.c + b.c + c.c). */
#ifndef RULES_H
#define RULES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The map is defined in b.c; a.c refers to it through an extern declaration. */
#define SHARED_MAP_DEF                               \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_ARRAY);    \
		__uint(max_entries, 2);              \
		__type(key, __u32);                  \
		__type(value, __u64);                \
	} shared_map SEC(".maps")

/* Which file's definition wins shows up as one decimal digit of the result:
 *   pick()    weak in a.c (1),   strong in b.c (2)   -> 2
 *   flavor()  strong in a.c (3), weak in b.c (4)     -> 3
 *   config    weak in a.c (5),   strong in c.c (6)   -> 6
 *   level     strong in a.c (7), weak in c.c (8)     -> 7
 *   tie()     weak in b.c (1),   weak in c.c (2)     -> the first linked (b.c): 1
 */
int pick(void);
int flavor(void);
int tie(void);
int note(__u32 x);
extern __u32 config;
extern __u32 level;

#endif
