/* The whole model with quantized weights against the C reference forward on
 * the dequantized weights (tests/lib/ref_*): quantized GGUF files as
 * `phi3vk synth --type` / `convert --type` write them (Q8_0, Q4_0 with a Q6_K
 * lm_head, the Q4_K_M mix of Q4_K, Q5_K and Q6_K) and float checkpoints
 * quantized while loading (eng_model_opts.weights).
 *
 * Bound: as tests/test_model.c, logits of every position within normalized
 * MSE 1e-4 of the reference, the last position again after a decode step,
 * and greedy continuations identical wherever the reference's top-2 margin
 * exceeds MARGIN. The kernels dequantize exactly the values the reference
 * multiplies, so the error is the same fp16 rounding of activations and KV
 * cache as with fp16 weights (measured ~1e-6).
 *
 * Also printed, not checked (the formats' cost, bench/RESULTS.md): each
 * quantization of one float checkpoint against its fp16 run (the device's,
 * both ways): logits nmse and greedy agreement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/engtest.h"
#include "lib/ref_phi3.h"
#include "engine/engine.h"
#include "model/synth.h"

#define LOGITS_BOUND 1e-4
#define MARGIN 0.05f
#define GREEDY_STEPS 16

typedef struct shape {
    const char *name;
    int ffn, layers, heads, kv_heads, window, tie;
    phi3_quant file;     /* a GGUF of this scheme (NONE: an F32 folder) */
    phi3_quant load;     /* eng_model_opts.weights */
    int prompt;
} shape;

static const shape shapes[] = {
    {"Q8_0 GGUF", 512, 2, 2, 2, 0, 0, PHI3_QUANT_Q8_0, PHI3_QUANT_NONE, 21},
    {"Q4_0 GGUF (lm_head Q6_K), GQA 4/2", 768, 2, 4, 2, 0, 0, PHI3_QUANT_Q4_0, PHI3_QUANT_NONE, 17},
    {"Q4_K_M GGUF (Q4_K, Q5_K qkv, Q6_K down and lm_head)", 512, 3, 2, 2, 0, 0, PHI3_QUANT_Q4_K_M, PHI3_QUANT_NONE, 19},
    {"F32 folder, --weights q4_k, tied (Q6_K embedding)", 512, 2, 2, 2, 0, 1, PHI3_QUANT_NONE, PHI3_QUANT_Q4_K, 23},
    {"F32 folder, --weights q8_0, window 16 < prompt 40", 512, 2, 2, 2, 16, 0, PHI3_QUANT_NONE, PHI3_QUANT_Q8_0, 40},
    {"Q4_K GGUF, --weights q8_0 (re-quantized)", 512, 2, 2, 2, 0, 0, PHI3_QUANT_Q4_K, PHI3_QUANT_Q8_0, 15},
};

static int top2(const float *v, int n, float *margin) {
    int a = 0, b = -1;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[a]) b = a, a = i;
        else if (b < 0 || v[i] > v[b]) b = i;
    }
    *margin = v[a] - v[b];
    return a;
}

static int write_checkpoint(const shape *s, int seed, const char *dir, char *path, size_t len) {
    phi3_synth_opts o;
    phi3_synth_defaults(&o);
    phi3_config *c = &o.cfg;
    c->hidden = 256, c->intermediate = s->ffn, c->n_layers = s->layers, c->vocab = 1000;
    c->n_heads = s->heads, c->n_kv_heads = s->kv_heads, c->head_dim = 256 / s->heads;
    c->max_pos = c->orig_max_pos = 256;
    c->sliding_window = s->window, c->tie_word_embeddings = s->tie;
    c->rope_scaling = PHI3_ROPE_NONE, c->rope_attn_factor = 0;
    c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
    o.gguf = s->file != PHI3_QUANT_NONE;
    o.quant = s->file;
    o.seed = (uint64_t)seed;
    snprintf(path, len, "%s/%d%s", dir, seed, o.gguf ? ".gguf" : "");
    char err[512];
    if (phi3_synth_write(&o, path, err, sizeof err)) {
        fprintf(stderr, "synth: %s\n", err);
        return -1;
    }
    return 0;
}

static void check_shape(vkr_ctx *vk, const shape *s, int seed, const char *dir) {
    char path[512], err[1024];
    printf("== %s\n", s->name);
    if (write_checkpoint(s, seed, dir, path, sizeof path)) {
        CHECK(0, "%s: could not write the checkpoint", s->name);
        return;
    }
    ref_model ref = {0};
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk, .weights = s->load}, err, sizeof err);
    CHECK(m != NULL, "%s: open: %s", s->name, err);
    CHECK(ref_model_load_as(&ref, path, s->load, err, sizeof err) == 0, "%s: ref load: %s", s->name, err);
    if (!m || !ref.layers) goto done;
    printf("weights: %s, %.3f bytes per weight\n", eng_model_weight_types(m), eng_model_bytes_per_weight(m));
    int V = 1000, n = s->prompt;
    int32_t toks[64 + GREEDY_STEPS];
    float *want = malloc((size_t)(n + GREEDY_STEPS) * V * sizeof *want);
    for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 7919 + 13) % V);

    eng_ctx *c = tst_ctx(m, (eng_plan_request){.n_ctx = 128, .all_logits = 1, .n_batch = 64}, err, sizeof err);
    eng_output o = {0};
    CHECK(c && tst_eval(c, 0, toks, n, ENG_ALL_LOGITS, &o, err, sizeof err) == 0, "%s: eval: %s", s->name, err);
    ref_forward(&ref, toks, n, want);
    if (!o.logits) goto free_all;
    double e = test_nmse(o.logits, want, (size_t)n * V);
    CHECK(e <= LOGITS_BOUND, "%s: prefill logits nmse %.3g > %.0e", s->name, e, LOGITS_BOUND);
    printf("prefill of %d tokens: logits nmse %.2e\n", n, e);
    eng_ctx_destroy(c);

    c = tst_ctx(m, (eng_plan_request){.n_ctx = 128, .n_batch = 64}, err, sizeof err);
    int ok = c && tst_eval(c, 0, toks, n - 1, 0, &o, err, sizeof err) == 0 &&
             tst_eval(c, 0, toks + n - 1, 1, ENG_LOGITS, &o, err, sizeof err) == 0;
    CHECK(ok, "%s: prefill + decode: %s", s->name, err);
    if (!ok) goto free_all;
    double e2 = test_nmse(o.logits, want + (size_t)(n - 1) * V, (size_t)V);
    CHECK(e2 <= LOGITS_BOUND, "%s: decode-step logits nmse %.3g", s->name, e2);
    printf("prefill %d + decode 1: last logits nmse %.2e\n", n - 1, e2);

    int32_t next = o.argmax;
    int same = 0, compared = 0;
    for (int k = 0; k < GREEDY_STEPS; k++) {
        float mg;
        ref_forward(&ref, toks, n + k, want);
        int r = top2(want + (size_t)(n + k - 1) * V, V, &mg);
        if (mg < MARGIN) break; /* a near tie: either answer is right */
        compared++;
        if (r != next) break;
        same++;
        toks[n + k] = next;
        if (tst_eval(c, 0, &next, 1, 0, &o, err, sizeof err)) {
            CHECK(0, "%s: decode: %s", s->name, err);
            break;
        }
        next = o.argmax;
    }
    CHECK(same == compared && compared > 0, "%s: greedy continuation matched %d of %d steps", s->name, same, compared);
    printf("greedy continuation: %d/%d tokens identical\n", same, compared);
free_all:
    eng_ctx_destroy(c);
    free(want);
done:
    eng_model_close(m);
    ref_model_free(&ref);
}

/* logits [n, V] and greedy ids of a float checkpoint loaded as q. */
static int run_as(vkr_ctx *vk, const char *path, phi3_quant q, const int32_t *prompt, int n, int steps, float *logits,
                  int32_t *greedy) {
    char err[1024];
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk, .weights = q}, err, sizeof err);
    eng_ctx *c = m ? tst_ctx(m, (eng_plan_request){.n_ctx = 128, .all_logits = 1, .n_batch = 64}, err, sizeof err) : NULL;
    eng_output o;
    int rc = c && tst_eval(c, 0, prompt, n, ENG_ALL_LOGITS, &o, err, sizeof err) == 0 ? 0 : -1;
    if (!rc) memcpy(logits, o.logits, (size_t)n * 1000 * sizeof *logits);
    eng_ctx_destroy(c);
    c = m && !rc ? tst_ctx(m, (eng_plan_request){.n_ctx = 128, .n_batch = 64}, err, sizeof err) : NULL;
    rc = c && tst_eval(c, 0, prompt, n, 0, &o, err, sizeof err) == 0 ? rc : -1;
    for (int k = 0; !rc && k < steps; k++) {
        greedy[k] = o.argmax;
        rc = tst_eval(c, 0, &greedy[k], 1, 0, &o, err, sizeof err);
    }
    if (rc) fprintf(stderr, "run_as %s: %s\n", phi3_quant_name(q), err);
    eng_ctx_destroy(c);
    eng_model_close(m);
    return rc;
}

/* What each format costs against fp16 on one random checkpoint (printed for
 * bench/RESULTS.md; random weights, so no bound). */
static void report_vs_f16(vkr_ctx *vk, const char *dir) {
    const shape s = {"report", 768, 4, 4, 4, 0, 0, PHI3_QUANT_NONE, PHI3_QUANT_NONE, 48};
    char path[512];
    if (write_checkpoint(&s, 99, dir, path, sizeof path)) return;
    enum { N = 48, STEPS = 32, V = 1000 };
    int32_t prompt[N], g16[STEPS], gq[STEPS];
    float *l16 = malloc((size_t)N * V * 4), *lq = malloc((size_t)N * V * 4);
    for (int i = 0; i < N; i++) prompt[i] = (int32_t)((i * 7919 + 13) % V);
    printf("== the formats against fp16 (hidden 256, 4 layers, %d-token prompt, %d greedy steps)\n", N, STEPS);
    if (run_as(vk, path, PHI3_QUANT_F16, prompt, N, STEPS, l16, g16) == 0) {
        const phi3_quant qs[] = {PHI3_QUANT_Q8_0, PHI3_QUANT_Q4_K_M, PHI3_QUANT_Q4_K, PHI3_QUANT_Q4_0};
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
            if (run_as(vk, path, qs[i], prompt, N, STEPS, lq, gq)) continue;
            int agree = 0, top1 = 0;
            while (agree < STEPS && gq[agree] == g16[agree]) agree++;
            for (int t = 0; t < N; t++) {
                float mg;
                top1 += top2(lq + (size_t)t * V, V, &mg) == top2(l16 + (size_t)t * V, V, &mg);
            }
            printf("%-7s logits nmse vs fp16 %.2e, top-1 agreement %d/%d positions, greedy identical for %d/%d steps\n",
                   phi3_quant_name(qs[i]), test_nmse(lq, l16, (size_t)N * V), top1, N, agree, STEPS);
        }
    }
    free(l16), free(lq);
}

int main(void) {
    char err[512];
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!vk) test_skip(err);
    char dir[] = "/tmp/phi3vk-test-quant-model-XXXXXX";
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(vk, &shapes[i], (int)i + 11, dir);
    /* the GPU profiles' kernels (storage-buffer loads, tiled prefill) too */
    vkr_ctx_use_profile(vk, "nvidia");
    check_shape(vk, &shapes[2], 13, dir);
    vkr_ctx_use_profile(vk, "auto");
    report_vs_f16(vk, dir);
    CHECK(vkr_ctx_validation_messages(vk) == 0, "validation layer messages");
    vkr_ctx_destroy(vk);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
