/* Short forms of the engine calls the tests make over and over. */
#ifndef PHI3VK_TEST_ENGTEST_H
#define PHI3VK_TEST_ENGTEST_H
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* eng_plan_make + eng_ctx_create for r, with one sequence when r.n_seq is 0.
 * NULL with err on failure. */
eng_ctx *tst_ctx(eng_model *m, eng_plan_request r, char *err, size_t errlen);
/* One input step: tokens t[0, n) appended to sequence seq, outputs in *o
 * (want: ENG_LOGITS, ENG_ALL_LOGITS or 0). Returns eng_step's status. */
int tst_eval(eng_ctx *c, int seq, const int32_t *t, int n, unsigned want, eng_output *o, char *err, size_t errlen);

#endif
