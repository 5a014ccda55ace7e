/* Non-static memcpy/memset definitions without a section, as Rust's compiler_builtins
 * provides them: kept (exported) by default, dropped with --disable-memory-builtins. */
void *memcpy(void *dest, const void *src, unsigned long n)
{
	unsigned char *d = dest;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dest;
}

void *memset(void *dest, int c, unsigned long n)
{
	unsigned char *d = dest;

	while (n--)
		*d++ = (unsigned char)c;
	return dest;
}
