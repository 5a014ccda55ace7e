/* Helpers of the two-file program: a struct zeroed and tagged, bytes copied into it. */
#include "two.h"

HELPER void sample_init(struct sample *s, __u32 len)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->len = len;
	__builtin_memcpy(s->tag, "two-files", 10);
}

HELPER void sample_copy(struct sample *s, const char *from)
{
	__builtin_memcpy(s->src, from, sizeof(s->src));
}
