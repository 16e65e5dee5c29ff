/* The whole model on the device against the C reference (tests/lib/ref_*),
 * on random-weight checkpoints written by model/synth in every layout.
 *
 * Bound: logits of every position within normalized MSE 1e-4 of the
 * reference. The device rounds the matmul inputs (normed x, attention
 * output, silu*up) and the KV cache to fp16 where the reference keeps fp32;
 * each rounding is ~2^-11 relative, which after a few layers measures
 * ~1e-6..1e-5 here, so 1e-4 leaves margin without hiding a wrong op (a
 * wrong RoPE pair, mask or head mapping gives nmse > 1e-2).
 * Top-1 must agree wherever the reference's top-2 margin exceeds
 * MARGIN; greedy continuations must match token for token (stopping the
 * comparison only at a step whose reference margin is below MARGIN). */
#include <math.h>
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
#define MARGIN 0.05f
#define GREEDY_STEPS 32

typedef struct shape {
    const char *name;
    int hidden, ffn, layers, heads, kv_heads, vocab, ctx;
    int sliding_window;  /* 0 = none */
    int longrope_orig;   /* 0 = plain RoPE */
    fmt_dtype dtype;
    int shards, gguf;
    int prompt;          /* prompt tokens */
} shape;

static const shape shapes[] = {
    {"head_dim 96, F16 single file", 192, 300, 2, 2, 2, 1003, 256, 0, 0, FMT_DTYPE_F16, 1, 0, 23},
    {"GQA 4/2, head_dim 64, BF16 in 3 shards", 256, 344, 3, 4, 2, 1000, 256, 0, 0, FMT_DTYPE_BF16, 3, 0, 17},
    {"head_dim 128, 1 layer, F32", 256, 512, 1, 2, 1, 900, 256, 0, 0, FMT_DTYPE_F32, 1, 0, 9},
    {"sliding window 16 < prompt 40, GGUF", 192, 256, 2, 2, 2, 1000, 256, 16, 0, FMT_DTYPE_F16, 1, 1, 40},
    {"LongRoPE, prompt 48 > original 32", 192, 256, 2, 2, 2, 1000, 128, 0, 32, FMT_DTYPE_F32, 1, 0, 48},
    {"LongRoPE, decode crosses original 32", 192, 256, 2, 2, 2, 1000, 128, 0, 32, FMT_DTYPE_F16, 1, 0, 30},
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

static int write_checkpoint(const shape *s, const char *dir, char *path, size_t len) {
    phi3_synth_opts o;
    phi3_synth_defaults(&o);
    phi3_config *c = &o.cfg;
    c->hidden = s->hidden, c->intermediate = s->ffn, c->n_layers = s->layers;
    c->n_heads = s->heads, c->n_kv_heads = s->kv_heads, c->vocab = s->vocab;
    c->max_pos = c->orig_max_pos = s->ctx;
    c->sliding_window = s->sliding_window;
    c->rope_scaling = PHI3_ROPE_NONE;
    c->rope_attn_factor = 0;
    c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
    c->head_dim = s->hidden / s->heads;
    if (s->longrope_orig) phi3_synth_longrope(c, s->longrope_orig);
    o.dtype = s->dtype, o.shards = s->shards, o.gguf = s->gguf;
    o.seed = (uint64_t)(s - shapes) + 7;
    snprintf(path, len, "%s/%d%s", dir, (int)(s - shapes), s->gguf ? ".gguf" : "");
    char err[512];
    if (phi3_synth_write(&o, path, err, sizeof err)) {
        fprintf(stderr, "synth: %s\n", err);
        return -1;
    }
    return 0;
}

static void check_shape(vkr_ctx *vk, const shape *s, const char *dir) {
    char path[512], err[1024];
    printf("== %s\n", s->name);
    if (write_checkpoint(s, dir, path, sizeof path)) {
        CHECK(0, "%s: could not write the checkpoint", s->name);
        return;
    }
    ref_model ref = {0};
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk}, err, sizeof err);
    CHECK(m != NULL, "%s: open: %s", s->name, err);
    CHECK(ref_model_load(&ref, path, err, sizeof err) == 0, "%s: ref load: %s", s->name, err);
    if (!m || !ref.layers) goto done;
    int V = s->vocab, n = s->prompt, total = n + GREEDY_STEPS;
    int32_t *toks = malloc((size_t)total * sizeof *toks);
    float *want = malloc((size_t)total * V * sizeof *want);
    for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 7919 + 13) % V);

    /* 1. every position of one prefill */
    eng_ctx *c = tst_ctx(m, (eng_plan_request){.n_ctx = s->ctx, .all_logits = 1, .n_batch = 64}, err, sizeof err);
    CHECK(c != NULL, "%s: ctx: %s", s->name, err);
    if (!c) goto free_all;
    eng_output o = {0};
    CHECK(tst_eval(c, 0, toks, n, ENG_ALL_LOGITS, &o, err, sizeof err) == 0, "%s: eval: %s", s->name, err);
    ref_forward(&ref, toks, n, want);
    const float *got = o.logits;
    if (!got) goto free_all;
    double e = test_nmse(got, want, (size_t)n * V);
    CHECK(e <= LOGITS_BOUND, "%s: prefill logits nmse %.3g > %.0e", s->name, e, LOGITS_BOUND);
    int top_mismatch = 0;
    for (int t = 0; t < n; t++) {
        float mg, mg2;
        int a = top2(want + (size_t)t * V, V, &mg), b = top2(got + (size_t)t * V, V, &mg2);
        if (mg > MARGIN && a != b) top_mismatch++;
    }
    CHECK(top_mismatch == 0, "%s: top-1 differs at %d positions with a clear margin", s->name, top_mismatch);
    printf("prefill of %d tokens: logits nmse %.2e\n", n, e);
    eng_ctx_destroy(c);

    /* 2. prefill of n-1 tokens then one decode step == the last row above */
    c = tst_ctx(m, (eng_plan_request){.n_ctx = s->ctx, .n_batch = 64}, err, sizeof err);
    CHECK(c != NULL, "%s: ctx: %s", s->name, err);
    if (!c) goto free_all;
    int ok = tst_eval(c, 0, toks, n - 1, 0, &o, err, sizeof err) == 0 &&
             tst_eval(c, 0, toks + n - 1, 1, ENG_LOGITS, &o, err, sizeof err) == 0;
    CHECK(ok, "%s: prefill+decode: %s", s->name, err);
    if (!ok) goto free_all;
    double e2 = test_nmse(o.logits, want + (size_t)(n - 1) * V, (size_t)V);
    CHECK(e2 <= LOGITS_BOUND, "%s: decode-step logits nmse %.3g", s->name, e2);
    printf("prefill %d + decode 1: last logits nmse %.2e\n", n - 1, e2);

    /* 3. greedy continuation of GREEDY_STEPS tokens, argmax on the device */
    int32_t next = top2(o.logits, V, &(float){0});
    CHECK(next == o.argmax, "%s: the device's argmax %d, the logits' %d", s->name, o.argmax, next);
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
        if (tst_eval(c, 0, &next, 1, 0, &o, err, sizeof err) == 0) {
            next = o.argmax;
        } else {
            CHECK(0, "%s: decode: %s", s->name, err);
            break;
        }
    }
    CHECK(same == compared && compared > 0, "%s: greedy continuation matched %d of %d steps", s->name, same, compared);
    printf("greedy continuation: %d/%d tokens identical (of %d)\n", same, compared, GREEDY_STEPS);
    eng_ctx_destroy(c);
free_all:
    free(toks);
    free(want);
done:
    eng_model_close(m);
    ref_model_free(&ref);
}

/* Several sequences in one context: one batched pass of three prompts of
 * different lengths, then a copied prefix continued in another sequence, then
 * a batched single-token step; each sequence must match the reference run
 * alone. */
static void check_batch(vkr_ctx *vk, const char *dir) {
    const shape *s = &shapes[1]; /* GQA, BF16 shards */
    char path[512], err[1024];
    printf("== batch of 3 sequences (%s)\n", s->name);
    if (write_checkpoint(s, dir, path, sizeof path)) {
        CHECK(0, "batch: could not write the checkpoint");
        return;
    }
    ref_model ref = {0};
    eng_model *m = eng_model_open(path, &(eng_model_opts){.vk = vk}, err, sizeof err);
    eng_ctx *c = m ? tst_ctx(m, (eng_plan_request){.n_ctx = 64, .n_seq = 3, .n_batch = 32}, err, sizeof err)
                    : NULL;
    CHECK(c && ref_model_load(&ref, path, err, sizeof err) == 0, "batch setup: %s", err);
    if (!c || !ref.layers) goto done;
    int V = s->vocab, lens[3] = {11, 5, 20}; /* 36 tokens > n_batch 32: two passes */
    int32_t toks[3][40];
    float *want = malloc((size_t)40 * V * sizeof *want);
    for (int q = 0; q < 3; q++)
        for (int i = 0; i < 40; i++) toks[q][i] = (int32_t)((i * 31 + q * 101 + 7) % V);
    eng_input in[3];
    eng_output out[3];
    for (int q = 0; q < 3; q++) in[q] = (eng_input){.seq = q, .tokens = toks[q], .n = lens[q], .want = ENG_LOGITS};
    CHECK(eng_step(c, in, 3, out, err, sizeof err) == 0, "batched step: %s", err);
    for (int q = 0; q < 3; q++) {
        ref_forward(&ref, toks[q], lens[q], want);
        double e = out[q].logits ? test_nmse(out[q].logits, want + (size_t)(lens[q] - 1) * V, (size_t)V) : 1;
        CHECK(e <= LOGITS_BOUND && eng_seq_len(c, q) == lens[q], "batch seq %d: nmse %.3g", q, e);
        printf("batched prefill, sequence %d (%d tokens): nmse %.2e\n", q, lens[q], e);
    }
    /* sequence 1 := the first 8 tokens of sequence 2, then its own 3 tokens */
    CHECK(eng_seq_copy(c, 2, 1, 8, err, sizeof err) == 0, "copy_seq: %s", err);
    int32_t mix[12]; /* 8 copied + 3 own + 1 batched step */
    memcpy(mix, toks[2], 8 * sizeof *mix);
    memcpy(mix + 8, toks[0], 3 * sizeof *mix);
    eng_output o;
    CHECK(tst_eval(c, 1, toks[0], 3, ENG_LOGITS, &o, err, sizeof err) == 0, "eval after copy: %s", err);
    ref_forward(&ref, mix, 11, want);
    double e = test_nmse(o.logits, want + (size_t)10 * V, (size_t)V);
    CHECK(e <= LOGITS_BOUND, "copied prefix + 3 tokens: nmse %.3g", e);
    printf("copied 8-token prefix + 3 tokens: nmse %.2e\n", e);
    /* one more token for every sequence in a single pass; top-k of each */
    int32_t one[3] = {5, 6, 7};
    for (int q = 0; q < 3; q++) in[q] = (eng_input){.seq = q, .tokens = &one[q], .n = 1, .want = ENG_LOGITS, .top_k = 5};
    CHECK(eng_step(c, in, 3, out, err, sizeof err) == 0, "batched step: %s", err);
    int32_t *seqs[3] = {toks[0], mix, toks[2]};
    int now[3] = {lens[0], 11, lens[2]};
    for (int q = 0; q < 3; q++) {
        seqs[q][now[q]] = one[q];
        ref_forward(&ref, seqs[q], now[q] + 1, want);
        const float *w = want + (size_t)now[q] * V;
        double e2 = test_nmse(out[q].logits, w, (size_t)V);
        CHECK(e2 <= LOGITS_BOUND, "batched step, sequence %d: nmse %.3g", q, e2);
        /* top-5 log-probabilities: the five best of the step's own logits, in
         * order, each the log-softmax (the logits themselves are checked
         * against the reference above) */
        const float *g = out[q].logits;
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) mx = g[v] > mx ? g[v] : mx;
        for (int v = 0; v < V; v++) sum += exp(g[v] - mx);
        CHECK(out[q].n_top == 5, "sequence %d: %d top entries", q, out[q].n_top);
        for (int k = 0; k < out[q].n_top; k++) {
            int32_t id = out[q].top[k].id;
            double lp = g[id] - mx - log(sum);
            int rank = 0;
            for (int v = 0; v < V; v++) rank += g[v] > g[id];
            CHECK(rank == k && fabs(lp - out[q].top[k].logprob) < 1e-3, "sequence %d top %d: id %d (rank %d), "
                  "logprob %.4f against %.4f", q, k, id, rank, out[q].top[k].logprob, lp);
        }
        CHECK(out[q].argmax == out[q].top[0].id, "sequence %d: argmax %d, top-1 %d", q, out[q].argmax, out[q].top[0].id);
    }
    eng_input twice[2] = {{.seq = 0, .tokens = one, .n = 1}, {.seq = 0, .tokens = one, .n = 1}};
    CHECK(eng_step(c, twice, 2, out, err, sizeof err) == -1 && strstr(err, "twice"),
          "a sequence twice in one step is refused: %s", err);
    free(want);
done:
    eng_ctx_destroy(c);
    eng_model_close(m);
    ref_model_free(&ref);
}

int main(void) {
    char err[512];
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!vk) test_skip(err);
    char dir[] = "/tmp/phi3vk-test-model-XXXXXX";
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(vk, &shapes[i], dir);
    /* A prefill cut into one queue submission per layer (as a GPU's
     * watchdog budget would cut a long one) computes the same. */
    vkr_device_profile *prof = vkr_ctx_profile_mut(vk);
    double budget = prof->submit_flops;
    prof->submit_flops = 1;
    printf("(one submission per layer)\n");
    check_shape(vk, &shapes[3], dir);
    prof->submit_flops = budget;
    check_batch(vk, dir);
    CHECK(vkr_ctx_validation_messages(vk) == 0, "validation layer messages");
    vkr_ctx_destroy(vk);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
