/* Single-file reference of the two-file program: both files in one translation unit,
 * compiled by clang alone, the helpers `static` (as the linker makes them). */
#define HELPER static
#include "two_main.c"
#include "two_helpers.c"
