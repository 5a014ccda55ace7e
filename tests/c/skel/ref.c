/* Single-file reference of the skeleton fixture: prog.c and calc.c in one translation
 * unit compiled by clang alone, keeping the definitions the link selects (strong over
 * __weak); the helpers become static and the two `hits` statics are renamed apart. */
#define SKEL_SINGLE_FILE
#define HELPER static
#define hits prog_hits
#include "prog.c"
#undef hits
#define hits calc_hits
#include "calc.c"
