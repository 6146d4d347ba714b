/*
 * no_entry.c - a shared object that is not a flinc job: it links libflinc but
 * defines no FLINC_MAIN entry point. test_errors.sh runs it and expects
 * `flinc run` to refuse it by naming the missing symbol.
 */
#include "flinc/flinc.h"

/* Something exported, so that the object is a normal library. */
int no_entry_answer(void) { return 42; }
