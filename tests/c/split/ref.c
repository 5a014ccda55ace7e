/* Single-file reference of the split program: main.c and helpers.c in one translation
 * unit, compiled by clang alone. The helpers become `static` (as the linker makes them)
 * and the same-name statics of the two files are renamed apart. */
#define HELPER static
#define mix main_mix
#define calls main_calls
#include "main.c"
#undef mix
#undef calls
#define mix helpers_mix
#define calls helpers_calls
#include "helpers.c"
