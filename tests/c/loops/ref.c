/* Single-file reference of the loops program: parser.c and util.c in one translation
 * unit, compiled by clang alone, the helpers `static` as the linker makes them. */
#define HELPER static
#include "parser.c"
#include "util.c"
