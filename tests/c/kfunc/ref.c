/* Single-file reference of the kfunc program, compiled by clang alone. */
#define HELPER static
#include "main.c"
#include "helper.c"
