/* The bench's correctness check (see check.h). */
#include "engine/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ref.h"
#include "engine/engine.h"
#include "model/synth.h"

#define CHECK_SEED 39u  /* chosen so the reference's smallest greedy margin is large (1.65) */
#define CHECK_CTX 64

static const int32_t check_prompt[] = {1, 17, 423, 88, 999, 5, 640, 301, 77, 512, 250, 36};
#define PROMPT_LEN ((int)(sizeof check_prompt / sizeof check_prompt[0]))

static int corrupt_for_test;

void eng_check_corrupt_for_test(int on) { corrupt_for_test = on; }

static void check_model(phi3_synth_opts *o) {
    phi3_synth_defaults(o);
    phi3_config *c = &o->cfg;
    c->hidden = 384, c->intermediate = 1024, c->n_layers = 2, c->n_heads = 4, c->n_kv_heads = 4;
    c->head_dim = 96, c->vocab = 1000, c->sliding_window = 16;
    c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
    o->seed = CHECK_SEED;
}

static int argmax(const float *v, int n, double *margin) {
    int a = 0, b = 1;
    if (v[b] > v[a]) a = 1, b = 0;
    for (int i = 2; i < n; i++) {
        if (v[i] > v[a]) b = a, a = i;
        else if (v[i] > v[b]) b = i;
    }
    if (margin) *margin = (double)v[a] - v[b];
    return a;
}

/* Accumulates the squared error of one logits row against the reference. */
static void nmse_add(const float *dev, const float *ref, int n, double *num, double *den) {
    for (int i = 0; i < n; i++) {
        double d = (double)dev[i] - ref[i];
        *num += d * d, *den += (double)ref[i] * ref[i];
    }
}

/* The reference side: prompt logits [PROMPT_LEN, vocab], greedy ids and the
 * logits of the last id. */
static int run_ref(const phi3_synth_opts *o, float *prompt_logits, int32_t *ids, float *last_logits, double *margin,
                   char *err, size_t errlen) {
    eng_ref *r = eng_ref_create(o, CHECK_CTX, err, errlen);
    if (!r) return -1;
    int V = o->cfg.vocab;
    *margin = INFINITY;
    for (int t = 0; t < PROMPT_LEN; t++) eng_ref_step(r, check_prompt[t], prompt_logits + (size_t)t * V);
    double m;
    ids[0] = argmax(prompt_logits + (size_t)(PROMPT_LEN - 1) * V, V, &m);
    *margin = m;
    for (int i = 1; i <= ENG_CHECK_IDS; i++) {
        eng_ref_step(r, ids[i - 1], last_logits);
        if (i == ENG_CHECK_IDS) break; /* the logits of the last id are compared, not decoded */
        ids[i] = argmax(last_logits, V, &m);
        if (m < *margin) *margin = m;
    }
    eng_ref_destroy(r);
    return 0;
}

/* The device side, same steps on vk. */
static int run_dev(vkr_ctx *vk, const phi3_synth_opts *o, float *prompt_logits, int32_t *ids, float *last_logits,
                   char *err, size_t errlen) {
    int rc = -1, V = o->cfg.vocab;
    eng_ctx *c = NULL;
    eng_model *m = eng_model_synthetic(o, &(eng_model_opts){.vk = vk}, err, errlen);
    if (!m) return -1;
    eng_plan plan;
    eng_output out;
    if (eng_plan_make(m, &(eng_plan_request){.n_ctx = CHECK_CTX, .n_seq = 1, .all_logits = 1}, &plan, err, errlen) ||
        !(c = eng_ctx_create(m, &plan, err, errlen)))
        goto done;
    /* every prompt position's logits, then greedy decode (argmax on the
     * device), then the last id once more with its logits */
    if (eng_step(c, &(eng_input){.seq = 0, .tokens = check_prompt, .n = PROMPT_LEN, .want = ENG_ALL_LOGITS}, 1, &out,
                 err, errlen))
        goto done;
    memcpy(prompt_logits, out.logits, (size_t)PROMPT_LEN * V * sizeof *out.logits);
    ids[0] = argmax(prompt_logits + (size_t)(PROMPT_LEN - 1) * V, V, NULL);
    for (int i = 1; i < ENG_CHECK_IDS; i++) {
        if (eng_step(c, &(eng_input){.seq = 0, .tokens = &ids[i - 1], .n = 1}, 1, &out, err, errlen)) goto done;
        ids[i] = out.argmax;
    }
    if (eng_step(c, &(eng_input){.seq = 0, .tokens = &ids[ENG_CHECK_IDS - 1], .n = 1, .want = ENG_LOGITS}, 1, &out,
                 err, errlen))
        goto done;
    memcpy(last_logits, out.logits, (size_t)V * sizeof *out.logits);
    rc = 0;
done:
    eng_ctx_destroy(c);
    eng_model_close(m);
    return rc;
}

struct eng_check_ref {
    phi3_synth_opts model;        /* what the device side builds */
    float *prompt_logits;         /* [PROMPT_LEN, vocab] */
    float *last_logits;           /* [vocab] */
    int32_t ids[ENG_CHECK_IDS];
    double margin;
};

eng_check_ref *eng_check_ref_create(char *err, size_t errlen) {
    eng_check_ref *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    check_model(&r->model);
    phi3_synth_opts ref_o = r->model;
    if (corrupt_for_test) ref_o.seed = CHECK_SEED + 1;
    int V = r->model.cfg.vocab;
    r->prompt_logits = malloc((size_t)(PROMPT_LEN + 1) * V * sizeof *r->prompt_logits);
    if (!r->prompt_logits) {
        snprintf(err, errlen, "out of host memory");
        eng_check_ref_free(r);
        return NULL;
    }
    r->last_logits = r->prompt_logits + (size_t)PROMPT_LEN * V;
    if (run_ref(&ref_o, r->prompt_logits, r->ids, r->last_logits, &r->margin, err, errlen)) {
        eng_check_ref_free(r);
        return NULL;
    }
    return r;
}

void eng_check_ref_free(eng_check_ref *r) {
    if (!r) return;
    free(r->prompt_logits);
    free(r);
}

int eng_check_compare(vkr_ctx *vk, const eng_check_ref *ref, eng_check_result *out) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(out, 0, sizeof *out);
    out->nmse = NAN;
    out->ref_margin = ref->margin;
    int V = ref->model.cfg.vocab;
    int32_t dev_ids[ENG_CHECK_IDS];
    float *dev_p = malloc((size_t)(PROMPT_LEN + 1) * V * sizeof *dev_p), *dev_l = dev_p + (size_t)PROMPT_LEN * V;
    char err[512] = "";
    if (!dev_p) {
        snprintf(out->message, sizeof out->message, "out of host memory");
        return -1;
    }
    if (run_dev(vk, &ref->model, dev_p, dev_ids, dev_l, err, sizeof err)) {
        snprintf(out->message, sizeof out->message, "check could not run: %.440s", err);
        free(dev_p);
        return -1;
    }
    while (out->ids_match < ENG_CHECK_IDS && dev_ids[out->ids_match] == ref->ids[out->ids_match]) out->ids_match++;
    double num = 0, den = 0;
    nmse_add(dev_p, ref->prompt_logits, PROMPT_LEN * V, &num, &den);
    if (out->ids_match == ENG_CHECK_IDS) nmse_add(dev_l, ref->last_logits, V, &num, &den); /* same inputs only */
    out->nmse = den > 0 ? num / den : num;
    out->pass = out->ids_match == ENG_CHECK_IDS && out->nmse <= ENG_CHECK_NMSE; /* false for NaN */
    if (out->ids_match < ENG_CHECK_IDS)
        snprintf(out->message, sizeof out->message, "greedy id %d: device %d, reference %d", out->ids_match,
                 dev_ids[out->ids_match], ref->ids[out->ids_match]);
    else if (!out->pass)
        snprintf(out->message, sizeof out->message, "logits nmse %.3g > %.0e", out->nmse, ENG_CHECK_NMSE);
    free(dev_p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    return out->pass ? 0 : -1;
}

int eng_check_run(vkr_ctx *vk, eng_check_result *out) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[512];
    eng_check_ref *ref = eng_check_ref_create(err, sizeof err);
    if (!ref) {
        memset(out, 0, sizeof *out);
        out->nmse = NAN;
        snprintf(out->message, sizeof out->message, "check could not run: %.440s", err);
        return -1;
    }
    int rc = eng_check_compare(vk, ref, out);
    eng_check_ref_free(ref);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    return rc;
}
