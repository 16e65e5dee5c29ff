/* Loading on several threads (eng_model_opts.load_threads) gives the model
 * one thread gives: bit-identical logits for float weights converted to fp16
 * and for every quantize-on-load scheme, and the same clamp counts and first
 * clamped tensor for a checkpoint whose values overflow fp16. Thread counts
 * 1, 2 and 3 (3 does not divide the rows evenly); the weights are shaped so
 * that their chunks split into several parts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/engtest.h"
#include "engine/engine.h"
#include "model/source.h"
#include "model/synth.h"

#define N_TOK 7

static void small(phi3_synth_opts *o) {
    phi3_synth_defaults(o);
    phi3_config *c = &o->cfg;
    /* gate_up 1536 x 256 and the embedding 1024 x 256: several loading parts each */
    c->hidden = 256, c->intermediate = 768, c->n_layers = 2, c->n_heads = 4, c->n_kv_heads = 4, c->vocab = 1024;
    c->head_dim = 64;
    c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
    c->max_pos = c->orig_max_pos = 256, c->sliding_window = 0;
    c->rope_scaling = PHI3_ROPE_NONE;
    o->dtype = FMT_DTYPE_F32;
    o->seed = 99;
}

/* Every position's logits of a fixed prompt (malloc'ed [N_TOK, vocab]), or
 * NULL after a failed check. */
static float *run(vkr_ctx *vk, const char *path, phi3_quant q, int threads, const char *label) {
    char err[1024];
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk, .weights = q, .load_threads = threads}, err, sizeof err);
    CHECK(m != NULL, "%s, %d threads: open: %s", label, threads, err);
    if (!m) return NULL;
    CHECK(eng_model_load_threads(m) == threads, "%s: loaded on %d threads, asked %d", label, eng_model_load_threads(m), threads);
    int vocab = eng_model_config(m)->vocab;
    float *out = NULL;
    eng_ctx *c = tst_ctx(m, (eng_plan_request){.n_ctx = 32, .all_logits = 1}, err, sizeof err);
    CHECK(c != NULL, "%s: ctx: %s", label, err);
    int32_t toks[N_TOK] = {1, 17, 300, 5, 1023, 42, 9};
    eng_output o;
    if (c && tst_eval(c, 0, toks, N_TOK, ENG_ALL_LOGITS, &o, err, sizeof err) == 0) {
        out = malloc(sizeof *out * N_TOK * (size_t)vocab);
        if (out) memcpy(out, o.logits, sizeof *out * N_TOK * (size_t)vocab);
    } else if (c) {
        CHECK(0, "%s: eval: %s", label, err);
    }
    eng_ctx_destroy(c);
    eng_model_close(m);
    return out;
}

static void same_model(vkr_ctx *vk, const char *path, phi3_quant q, const char *label) {
    float *one = run(vk, path, q, 1, label);
    for (int t = 2; t <= 3 && one; t++) {
        float *many = run(vk, path, q, t, label);
        CHECK(many && !memcmp(one, many, sizeof *one * N_TOK * 1024), "%s: logits on %d loading threads differ from 1 thread's",
              label, t);
        free(many);
    }
    free(one);
}

/* Stats of loading path on `threads` threads (0 on failure). */
static phi3_convert_stats load_stats(vkr_ctx *vk, const char *path, int threads) {
    char err[1024];
    phi3_convert_stats st = {0};
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk, .load_threads = threads}, err, sizeof err);
    CHECK(m != NULL, "overflow, %d threads: open: %s", threads, err);
    if (m) st = *eng_model_load_stats(m);
    eng_model_close(m);
    return st;
}

int main(void) {
    char err[1024];
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!vk) test_skip(err);
    char dir[] = "/tmp/phi3vk-test-load-XXXXXX", path[600];
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");

    phi3_synth_opts o;
    small(&o);
    snprintf(path, sizeof path, "%s/f32", dir);
    CHECK(phi3_synth_write(&o, path, err, sizeof err) == 0, "synth: %s", err);
    const struct { phi3_quant q; const char *name; } schemes[] = {
        {PHI3_QUANT_NONE, "F32 -> f16"}, {PHI3_QUANT_Q8_0, "F32 -> q8_0"}, {PHI3_QUANT_Q4_0, "F32 -> q4_0"},
        {PHI3_QUANT_Q4_K, "F32 -> q4_k"}, {PHI3_QUANT_Q4_K_M, "F32 -> q4_k_m"},
    };
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) same_model(vk, path, schemes[i].q, schemes[i].name);

    /* embedding and lm_head with sd 30000: |x| beyond 65504 in every part
     * of their rows (counts and max merged from every lane) */
    small(&o);
    o.embd_std = 30000.0f;
    snprintf(path, sizeof path, "%s/big", dir);
    CHECK(phi3_synth_write(&o, path, err, sizeof err) == 0, "synth: %s", err);
    phi3_convert_stats a = load_stats(vk, path, 1);
    CHECK(a.n_overflow > 1000 && a.n_values > 0 && !strcmp(a.first_name, "model.embed_tokens.weight"), "one thread: %llu clamped, first '%s'",
          (unsigned long long)a.n_overflow, a.first_name);
    for (int t = 2; t <= 3; t++) {
        phi3_convert_stats b = load_stats(vk, path, t);
        CHECK(b.n_values == a.n_values && b.n_overflow == a.n_overflow && b.n_nan == a.n_nan && b.max_abs == a.max_abs &&
                  !strcmp(b.first_name, a.first_name),
              "%d threads: %llu values, %llu clamped, max %g, first '%s'; one thread: %llu, %llu, %g, '%s'", t,
              (unsigned long long)b.n_values, (unsigned long long)b.n_overflow, b.max_abs, b.first_name,
              (unsigned long long)a.n_values, (unsigned long long)a.n_overflow, a.max_abs, a.first_name);
    }

    CHECK(vkr_ctx_validation_messages(vk) == 0, "validation layer messages");
    vkr_ctx_destroy(vk);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
