/* Short forms of engine calls for the tests: a context from a plan, one evaluation. */
#include "engtest.h"

eng_ctx *tst_ctx(eng_model *m, eng_plan_request r, char *err, size_t errlen) {
    if (r.n_seq == 0) r.n_seq = 1;
    eng_plan p;
    if (eng_plan_make(m, &r, &p, err, errlen)) return NULL;
    return eng_ctx_create(m, &p, err, errlen);
}

int tst_eval(eng_ctx *c, int seq, const int32_t *t, int n, unsigned want, eng_output *o, char *err, size_t errlen) {
    return eng_step(c, &(eng_input){.seq = seq, .tokens = t, .n = n, .want = want}, 1, o, err, errlen);
}
