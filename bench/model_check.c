/* The measured model against the C reference (see model_check.h). */
#include "bench/model_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref.h"
#include "model/source.h"
#include "util/par.h"
#include "util/time.h"

/* BOS "The capital of France is Paris. The capital of Italy is" (Phi-3's tokenizer) */
static const int32_t check_ids[BENCH_MODEL_CHECK_TOKENS] = {1,    450, 7483, 310,  3444, 338, 3681,
                                                            29889, 450, 7483, 310, 12730, 338};

void bench_model_check_skip(bench_model_check *out) {
    memset(out, 0, sizeof *out);
    out->nmse = NAN;
    out->positions = BENCH_MODEL_CHECK_TOKENS;
}

const char *bench_model_check_status(const bench_model_check *c) {
    return !c->ran ? "skipped" : c->pass ? "pass" : "fail";
}

/* The device side: every position's logits [N, vocab] of the prompt, the
 * first BENCH_MODEL_CHECK_PREFILL tokens in one prompt pass (the prefill
 * kernels) and the rest one at a time (the decode step that tg runs). */
static int run_device(eng_model *m, const int32_t *ids, float *logits, char *err, size_t errlen) {
    const int n = BENCH_MODEL_CHECK_TOKENS, np = BENCH_MODEL_CHECK_PREFILL;
    size_t vocab = (size_t)eng_model_config(m)->vocab;
    eng_plan plan;
    eng_output out;
    eng_ctx *c = NULL;
    int rc = -1;
    if (eng_plan_make(m, &(eng_plan_request){.n_ctx = n, .n_seq = 1, .n_batch = np, .all_logits = 1}, &plan, err,
                      errlen) ||
        !(c = eng_ctx_create(m, &plan, err, errlen)))
        goto done;
    if (eng_step(c, &(eng_input){.seq = 0, .tokens = ids, .n = np, .want = ENG_ALL_LOGITS}, 1, &out, err, errlen))
        goto done;
    memcpy(logits, out.logits, (size_t)np * vocab * sizeof *logits);
    for (int t = np; t < n; t++) {
        if (eng_step(c, &(eng_input){.seq = 0, .tokens = &ids[t], .n = 1, .want = ENG_LOGITS}, 1, &out, err, errlen))
            goto done;
        memcpy(logits + (size_t)t * vocab, out.logits, vocab * sizeof *logits);
    }
    rc = 0;
done:
    eng_ctx_destroy(c);
    return rc;
}

/* The reference side, streamed from the same weights. */
static int run_reference(const eng_model *m, const bench_model_source *src, int threads, const int32_t *ids,
                         float *logits, char *err, size_t errlen) {
    phi3_source *file = NULL;
    if (src->path && !(file = phi3_source_open(src->path, err, errlen))) return -1;
    eng_ref_opts ro = {.synth = src->synth, .src = file, .max_layers = eng_model_config(m)->n_layers,
                       .n_ctx = BENCH_MODEL_CHECK_TOKENS, .stream = 1, .threads = threads,
                       .weights = src->weights};
    eng_ref *r = eng_ref_open(&ro, err, errlen);
    int rc = r ? eng_ref_forward(r, ids, BENCH_MODEL_CHECK_TOKENS, logits, err, errlen) : -1;
    eng_ref_destroy(r);
    phi3_source_close(file);
    return rc;
}

static int argmax(const float *v, int n) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[a]) a = i;
    return a;
}

/* Compares the two sides into *out (see the pass rule in model_check.h). */
static void compare(const float *dev, const float *ref, int vocab, bench_model_check *out) {
    double num = 0, den = 0;
    int first_bad = -1, bad_dev = 0, bad_ref = 0;
    for (int t = 0; t < BENCH_MODEL_CHECK_TOKENS; t++) {
        const float *d = dev + (size_t)t * vocab, *r = ref + (size_t)t * vocab;
        double row = 0;
        for (int i = 0; i < vocab; i++) {
            double e = (double)d[i] - r[i];
            row += e * e, den += (double)r[i] * r[i];
        }
        num += row;
        int ad = argmax(d, vocab), ar = argmax(r, vocab);
        if (ad == ar) out->agree++;
        else if (isfinite(row) && (double)r[ar] - r[ad] <= 4 * sqrt(row / vocab)) out->excused++;
        else if (first_bad < 0) first_bad = t, bad_dev = ad, bad_ref = ar;
    }
    out->nmse = den > 0 ? num / den : num;
    out->pass = out->nmse <= BENCH_MODEL_CHECK_NMSE && first_bad < 0; /* false for NaN */
    if (first_bad >= 0)
        snprintf(out->message, sizeof out->message, "position %d: device picks id %d, reference %d (nmse %.3g)",
                 first_bad, bad_dev, bad_ref, out->nmse);
    else if (!out->pass)
        snprintf(out->message, sizeof out->message, "logits nmse %.3g > %.0e", out->nmse, BENCH_MODEL_CHECK_NMSE);
}

int bench_model_check_run(eng_model *m, const bench_model_source *src, int threads, bench_model_check *out) {
    bench_model_check_skip(out);
    out->ran = 1;
    int vocab = eng_model_config(m)->vocab;
    int32_t ids[BENCH_MODEL_CHECK_TOKENS];
    for (int i = 0; i < BENCH_MODEL_CHECK_TOKENS; i++) ids[i] = check_ids[i] % vocab;
    if (threads <= 0) threads = util_cpu_count();
    size_t n = (size_t)BENCH_MODEL_CHECK_TOKENS * vocab;
    float *dev = malloc(n * sizeof *dev), *ref = malloc(n * sizeof *ref);
    char err[320] = "";
    if (!dev || !ref) {
        snprintf(out->message, sizeof out->message, "could not run: out of host memory");
    } else {
        double t0 = util_now_s();
        int rc = run_device(m, ids, dev, err, sizeof err);
        double t1 = util_now_s();
        out->dev_s = t1 - t0;
        if (rc) snprintf(out->message, sizeof out->message, "could not run on the device: %s", err);
        else if (run_reference(m, src, threads, ids, ref, err, sizeof err))
            snprintf(out->message, sizeof out->message, "could not run the reference: %s", err);
        else compare(dev, ref, vocab, out);
        out->ref_s = util_now_s() - t1;
    }
    free(dev), free(ref);
    return out->pass ? 0 : -1;
}
