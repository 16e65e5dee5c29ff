/* A 2-layer checkpoint at Phi-3-mini's full width (hidden 3072, FFN 8192,
 * qkv 9216, vocab 32064; F16, 1.3 GB of weights on the device counting
 * embeddings and lm_head) on the device against the C reference: every
 * position's logits (nmse <= 1e-4, the bound of test_model.c) and a greedy
 * continuation. Labelled slow: left out of the sanitizer run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/engtest.h"
#include "lib/ref_phi3.h"
#include "engine/engine.h"
#include "model/synth.h"

#define LOGITS_BOUND 1e-4
#define PROMPT 6
#define STEPS 4

static int argmax(const float *v, int n) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[a]) a = i;
    return a;
}

int main(void) {
    char err[1024], dir[] = "/tmp/phi3vk-test-full-XXXXXX";
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");
    phi3_synth_opts o;
    phi3_synth_defaults(&o);
    if (phi3_synth_preset(&o.cfg, "phi3-mini", err, sizeof err)) test_skip(err);
    o.cfg.n_layers = 2;
    o.dtype = FMT_DTYPE_F16;
    o.seed = 3;
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    CHECK(phi3_synth_write(&o, path, err, sizeof err) == 0, "synth: %s", err);

    eng_model *m = eng_model_open(path, &(eng_model_opts){.validate = 1, .cache_dir = ""}, err, sizeof err);
    CHECK(m != NULL, "open: %s", err);
    ref_model ref = {0};
    CHECK(ref_model_load(&ref, path, err, sizeof err) == 0, "ref: %s", err);
    if (!m || !ref.layers) return test_finish();
    const int V = o.cfg.vocab;
    CHECK(eng_model_config(m)->hidden == 3072 && V == 32064, "full width");
    eng_ctx *c = tst_ctx(m, (eng_plan_request){.n_ctx = 64, .all_logits = 1}, err, sizeof err);
    CHECK(c != NULL, "ctx: %s", err);
    int32_t toks[PROMPT + STEPS] = {1, 32010, 450, 4996, 17354, 1701};
    float *want = malloc((size_t)(PROMPT + STEPS) * V * sizeof *want);
    eng_output out;
    if (c && tst_eval(c, 0, toks, PROMPT, ENG_ALL_LOGITS, &out, err, sizeof err) == 0) {
        ref_forward(&ref, toks, PROMPT, want);
        double e = test_nmse(out.logits, want, (size_t)PROMPT * V);
        CHECK(e <= LOGITS_BOUND, "prefill logits nmse %.3g", e);
        printf("full width, 2 layers: prefill of %d tokens, logits nmse %.2e\n", PROMPT, e);
    } else {
        CHECK(0, "eval: %s", err);
    }
    eng_ctx_destroy(c);

    /* Greedy continuation through the pre-recorded decode step. */
    c = tst_ctx(m, (eng_plan_request){.n_ctx = 64}, err, sizeof err);
    int32_t next = -1;
    if (c && tst_eval(c, 0, toks, PROMPT, ENG_LOGITS, &out, err, sizeof err) == 0) {
        next = argmax(out.logits, V);
        int same = 0;
        for (int k = 0; k < STEPS; k++) {
            ref_forward(&ref, toks, PROMPT + k, want);
            if (argmax(want + (size_t)(PROMPT + k - 1) * V, V) != next) break;
            toks[PROMPT + k] = next;
            same++;
            if (k + 1 < STEPS && tst_eval(c, 0, &next, 1, 0, &out, err, sizeof err)) break;
            if (k + 1 < STEPS) next = out.argmax;
        }
        CHECK(same == STEPS, "greedy continuation: %d of %d tokens match the reference", same, STEPS);
        printf("greedy continuation: %d/%d tokens identical\n", same, STEPS);
    } else {
        CHECK(0, "ctx/eval: %s", err);
    }
    eng_ctx_destroy(c);
    free(want);
    int msgs = vkr_ctx_validation_messages(eng_model_vk(m));
    CHECK(msgs == 0, "validation messages: %d", msgs);
    eng_model_close(m);
    ref_model_free(&ref);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
