/* The driver-matrix test (ctest label "matrix"): scripts/matrix.sh runs it
 * on lavapipe at every subgroup size (LP_NATIVE_VECTOR_WIDTH 128 .. 2048:
 * 4 .. 64 lanes) and on Mesa 22.3 and 25.0, validation (synchronization too)
 * on. It is small on purpose, about a minute per setting, and covers, for
 * every device profile (cpu, nvidia, amd, intel, gpu) and for the portable
 * kernels the self-test falls back to:
 *   - matrix multiply at awkward shapes through each profile's choice
 *     (decode matvec at 1 and 3 tokens, prefill at 9 and 70), fp16 and
 *     every block type,
 *     and Phi-3's lm_head at full size (197 MB),
 *   - weights larger than one storage binding (bound a range of rows at a
 *     time, as Phi-3's fp16 lm_head and embeddings are on lavapipe): matmul,
 *     embedding and the whole model with the range lowered to 256-512 KiB,
 *   - RMSNorm and argmax with the profile's workgroups,
 *   - attention: decode with key splits and GQA, prefill with a window,
 *   - the whole model: the bench attestation (a 2-layer Phi-3 with
 *     Phi-3-mini's head_dim: 12-token prefill logits and 16 greedy decode
 *     steps against a C reference, nmse <= 1e-4),
 * plus the subgroup probe (what the device runs against what it reports).
 * Bounds as in the kernel tests: matmul nmse <= 1e-10 (fp32 sums of the same
 * fp16 inputs), rmsnorm and attention (fp16 outputs) <= 1e-6. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/check.h"
#include "formats/quant.h"
#include "lib/check.h"
#include "lib/ref_ops.h"
#include "lib/vktest.h"
#include "kernels/shaders/common.h"
#include "kernels/kernels.h"

#define MATMUL_BOUND 1e-10
#define F16_BOUND 1e-6

static float *randv(test_rng *r, size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = test_rng_normal(r) * scale;
    vkt_round_f16(v, n);
    return v;
}

static const char *label(vkr_ctx *ctx) {
    static char buf[64];
    const vkr_device_profile *p = vkr_ctx_profile(ctx);
    snprintf(buf, sizeof buf, "%s%s", p->name, p->fallbacks ? "+portable" : "");
    return buf;
}

/* W [n, k] of dtype (fp16 or a block type) times t tokens. */
static void check_matmul_q(vkr_ctx *ctx, uint32_t dtype, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed) {
    test_rng r = {seed};
    float *w = randv(&r, (size_t)n * k, 0.05f), *x = randv(&r, (size_t)t * k, 1.0f);
    float *y0 = randv(&r, (size_t)t * n, 1.0f), *ref = malloc((size_t)t * n * 4), *got = malloc((size_t)t * n * 4);
    /* a K-quant's min term matters only when a sub-block is not centred on 0 */
    for (size_t i = 0; dtype != FMT_GGML_F16 && i < (size_t)n * k; i++) w[i] += 0.02f * (float)((i / 32) % 5) - 0.03f;
    vkr_buffer *bw = vkt_weight_q(ctx, "w", dtype, w, n, k), *bx = vkt_f16(ctx, "x", x, t, k);
    memcpy(ref, y0, (size_t)t * n * 4);
    ref_matmul(w, x, ref, n, k, t, acc);
    vkr_buffer *by = vkt_raw(ctx, "y", y0, (uint64_t)t * n * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "matmul");
    int ok = bw && bx && by && cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) {
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k,
                                              .n_tokens = t, .accumulate = acc});
        ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkr_buffer_read(ctx, by, 0, got, (uint64_t)t * n * 4) == 0;
    }
    CHECK(ok, "matmul run: %s", vkr_ctx_error(ctx));
    double e = ok ? test_nmse(got, ref, (size_t)t * n) : INFINITY;
    CHECK(e <= MATMUL_BOUND, "%s: matmul %s %ux%u, %u tokens: nmse %.3g", label(ctx), fmt_ggml_type_name(dtype), n, k,
          t, e);
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    free(w), free(x), free(y0), free(ref), free(got);
}

static void check_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed) {
    check_matmul_q(ctx, FMT_GGML_F16, n, k, t, acc, seed);
}

/* Phi-3-mini's fp16 lm_head [32064, 3072] at one token. The 98 M weights
 * come from an integer hash as multiples of 2^-12 in [-1/32, 1/32) (exact
 * in fp16), not from the normal generator: that would cost seconds at each
 * of the matrix's ten settings. */
static void check_lm_head(vkr_ctx *ctx) {
    const uint32_t n = 32064, k = 3072;
    float *w = malloc((size_t)n * k * 4), *x = malloc(k * 4), *ref = calloc(n, 4), *got = malloc(n * 4);
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = (float)((int)(((uint32_t)i * 2654435761u) >> 25) - 64) / 4096.0f;
    for (uint32_t i = 0; i < k; i++) x[i] = (float)((int)(i * 7919u % 257u) - 128) / 128.0f;
    ref_matmul(w, x, ref, n, k, 1, 0);
    vkr_buffer *bw = vkt_weight(ctx, "lm_head", w, n, k), *bx = vkt_f16(ctx, "x", x, 1, k);
    vkr_buffer *by = vkt_raw(ctx, "y", NULL, (uint64_t)n * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "lm_head");
    int ok = bw && bx && by && cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) {
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k, .n_tokens = 1});
        ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkr_buffer_read(ctx, by, 0, got, (uint64_t)n * 4) == 0;
    }
    CHECK(ok, "lm_head run: %s", vkr_ctx_error(ctx));
    double e = ok ? test_nmse(got, ref, n) : INFINITY;
    CHECK(e <= MATMUL_BOUND, "%s: lm_head %ux%u, 1 token: nmse %.3g", label(ctx), n, k, e);
    printf("%-16s lm_head %u x %u fp16 (%.0f MB): nmse %.2e\n", label(ctx), n, k, (double)n * k * 2 / 1e6, e);
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    free(w), free(x), free(ref), free(got);
}

/* Embedding rows of a table W [n, k] of dtype: every id's row (the gather
 * copies fp16 values exactly; block types are dequantized in fp32 in
 * another order than the reference: 1e-5 relative), and a NaN row for an
 * id past the table. */
static void check_embed(vkr_ctx *ctx, uint32_t dtype, uint32_t n, uint32_t k, uint64_t seed) {
    test_rng r = {seed};
    uint32_t ids[] = {0, n - 1, 511, 512, n / 2, 255, 256, n + 7};
    const uint32_t t = sizeof ids / sizeof ids[0];
    float *w = randv(&r, (size_t)n * k, 0.05f), *got = malloc((size_t)t * k * 4);
    vkr_buffer *bw = vkt_weight_q(ctx, "table", dtype, w, n, k), *bi = vkt_raw(ctx, "ids", ids, sizeof ids);
    vkr_buffer *bx = vkt_raw(ctx, "x", NULL, (uint64_t)t * k * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "embed");
    int ok = bw && bi && bx && cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) {
        kern_embed(cmd, &(kern_embed_args){.weight = bw, .ids = bi, .out = bx, .dim = k, .n_tokens = t});
        ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkr_buffer_read(ctx, bx, 0, got, (uint64_t)t * k * 4) == 0;
    }
    CHECK(ok, "embed run: %s", vkr_ctx_error(ctx));
    for (uint32_t i = 0; ok && i < t; i++) {
        uint32_t bad = 0;
        for (uint32_t c = 0; c < k; c++)
            bad += ids[i] < n ? !(fabsf(got[i * k + c] - w[(size_t)ids[i] * k + c]) <=
                                  1e-5f * fabsf(w[(size_t)ids[i] * k + c]) + 1e-7f)
                              : !isnan(got[i * k + c]);
        CHECK(!bad, "%s: embed %s [%u, %u], id %u: %u of %u values wrong", label(ctx), fmt_ggml_type_name(dtype), n, k,
              ids[i], bad, k);
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bi), vkr_buffer_destroy(ctx, bx);
    free(w), free(got);
}

static void check_rmsnorm_argmax(vkr_ctx *ctx, uint64_t seed) {
    const uint32_t n = 1000, t = 3;
    test_rng r = {seed};
    float *x = randv(&r, (size_t)t * n, 2.0f), *w = randv(&r, n, 1.0f);
    float *ref = malloc((size_t)t * n * 4), *got = malloc((size_t)t * n * 4);
    ref_rmsnorm(x, w, ref, n, t, 1e-5f);
    vkr_buffer *bw = vkt_weight(ctx, "norm", w, 1, n), *bx = vkt_raw(ctx, "x", x, (uint64_t)t * n * 4);
    vkr_buffer *by = vkt_f16(ctx, "y", NULL, t, n), *bi = vkt_raw(ctx, "ids", NULL, t * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "rmsnorm+argmax");
    uint32_t ids[3] = {0};
    int ok = bw && bx && by && bi && cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) {
        kern_rmsnorm(cmd, &(kern_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = n, .n_tokens = t, .eps = 1e-5f});
        kern_argmax(cmd, &(kern_argmax_args){.logits = bx, .out = bi, .n_vocab = n, .n_tokens = t});
        ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkt_read_f16(ctx, by, got, t, n) == 0 &&
             vkr_buffer_read(ctx, bi, 0, ids, sizeof ids) == 0;
    }
    CHECK(ok, "rmsnorm/argmax run: %s", vkr_ctx_error(ctx));
    double e = ok ? test_nmse(got, ref, (size_t)t * n) : INFINITY;
    CHECK(e <= F16_BOUND, "%s: rmsnorm: nmse %.3g", label(ctx), e);
    for (uint32_t ti = 0; ti < t; ti++) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (x[ti * n + i] > x[ti * n + best]) best = i;
        CHECK(ids[ti] == best, "%s: argmax row %u: %u, expected %u", label(ctx), ti, ids[ti], best);
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by), vkr_buffer_destroy(ctx, bi);
    free(x), free(w), free(ref), free(got);
}

static void check_attention(vkr_ctx *ctx, const ref_attn_shape *c, uint32_t n_split, uint64_t seed) {
    test_rng r = {seed};
    uint32_t hd = c->n_heads * c->head_dim, kvw = c->n_kv_heads * c->head_dim, rows = c->n_past + c->n_tokens;
    float *q = randv(&r, (size_t)c->n_tokens * hd, 1.0f), *k = randv(&r, (size_t)rows * kvw, 1.0f);
    float *v = randv(&r, (size_t)rows * kvw, 1.0f);
    float *ref = malloc((size_t)c->n_tokens * hd * 4), *got = malloc((size_t)c->n_tokens * hd * 4);
    ref_attention(c, q, k, v, ref);
    uint64_t sbytes = kern_attention_scratch_bytes(c->n_heads, c->head_dim, c->n_tokens, n_split);
    vkr_buffer *bq = vkt_raw(ctx, "q", q, (uint64_t)c->n_tokens * hd * 4), *bk = vkt_f16(ctx, "k", k, rows, kvw);
    vkr_buffer *bv = vkt_f16(ctx, "v", v, rows, kvw), *bo = vkt_f16(ctx, "out", NULL, c->n_tokens, hd);
    vkr_buffer *bp = vkr_buffer_create(ctx, "params", sizeof(struct step_params), VKR_BUF_HOST);
    vkr_buffer *bs = sbytes ? vkr_buffer_create(ctx, "scratch", sbytes, VKR_BUF_DEVICE) : NULL;
    vkr_cmd *cmd = vkr_cmd_create(ctx, "attention");
    int ok = bq && bk && bv && bo && bp && (bs || !sbytes) && cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) {
        *(struct step_params *)vkr_buffer_map(bp) = (struct step_params){.n_past = c->n_past, .n_tokens = c->n_tokens};
        kern_attention(cmd, &(kern_attention_args){.q = bq, .k_cache = bk, .v_cache = bv, .params = bp,
                                                    .scratch = bs, .out = bo, .n_heads = c->n_heads,
                                                    .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
                                                    .n_tokens = c->n_tokens, .window = c->window, .n_split = n_split});
        ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkt_read_f16(ctx, bo, got, c->n_tokens, hd) == 0;
    }
    CHECK(ok, "attention run: %s", vkr_ctx_error(ctx));
    double e = ok ? test_nmse(got, ref, (size_t)c->n_tokens * hd) : INFINITY;
    CHECK(e <= F16_BOUND, "%s: attention H %u/%u D %u T %u n_past %u window %u split %u: nmse %.3g", label(ctx),
          c->n_heads, c->n_kv_heads, c->head_dim, c->n_tokens, c->n_past, c->window, n_split, e);
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bs), vkr_buffer_destroy(ctx, bp), vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bv), vkr_buffer_destroy(ctx, bk), vkr_buffer_destroy(ctx, bq);
    free(q), free(k), free(v), free(ref), free(got);
}

static void check_model(vkr_ctx *ctx, const eng_check_ref *model, const char *how) {
    eng_check_result cr;
    eng_check_compare(ctx, model, &cr);
    CHECK(cr.pass, "%s%s: model attestation: %s (nmse %.3g, %d/%d ids)", label(ctx), how, cr.message, cr.nmse,
          cr.ids_match, ENG_CHECK_IDS);
    printf("%-16s model nmse %.2e, %d/%d greedy ids%s%s\n", label(ctx), cr.nmse, cr.ids_match, ENG_CHECK_IDS, how,
           cr.pass ? "" : "  FAIL");
}

static const uint32_t BLOCK_TYPES[] = {FMT_GGML_Q8_0, FMT_GGML_Q4_0, FMT_GGML_Q4_K, FMT_GGML_Q5_K, FMT_GGML_Q6_K};
#define N_BLOCK_TYPES (int)(sizeof BLOCK_TYPES / sizeof BLOCK_TYPES[0])

static void check_profile(vkr_ctx *ctx, const eng_check_ref *model) {
    check_matmul(ctx, 1001, 200, 1, 0, 1);
    check_matmul(ctx, 37, 13, 3, 1, 2);
    check_matmul(ctx, 1003, 203, 9, 1, 3);
    check_matmul(ctx, 130, 88, 70, 0, 4);
    /* block types: decode and prefill (K a whole number of K-quant
     * super-blocks; rows a multiple of nothing) */
    for (int i = 0; i < N_BLOCK_TYPES; i++) {
        check_matmul_q(ctx, BLOCK_TYPES[i], 259, 512, 1, 1, 10 + i);
        check_matmul_q(ctx, BLOCK_TYPES[i], 259, 512, 9, 0, 20 + i);
    }
    check_rmsnorm_argmax(ctx, 5);
    check_attention(ctx, &(ref_attn_shape){40, 10, 128, 1, 300, 0}, 3, 6);
    check_attention(ctx, &(ref_attn_shape){8, 4, 64, 33, 20, 16}, 1, 7);
    check_model(ctx, model, "");
    /* Weights larger than one storage binding (Phi-3's fp16 lm_head and
     * embeddings, 188 MiB, against lavapipe's 128 MiB range): bound a range
     * of rows at a time. A 256 KiB range makes several parts, with a short
     * last one, at these sizes. */
    vkr_ctx_limit_storage_range_for_test(ctx, 256 << 10);
    check_matmul(ctx, 1001, 200, 1, 0, 30);
    check_matmul(ctx, 1001, 200, 9, 1, 31);
    check_matmul(ctx, 1001, 200, 40, 0, 32);
    check_matmul_q(ctx, FMT_GGML_Q4_K, 1001, 512, 1, 0, 33);
    check_matmul_q(ctx, FMT_GGML_Q6_K, 1001, 512, 12, 1, 34);
    check_embed(ctx, FMT_GGML_F16, 1001, 200, 35);
    check_embed(ctx, FMT_GGML_Q4_K, 1001, 512, 36);
    /* the model's activations need more than 256 KiB; at 512 its embeddings
     * and lm_head (750 KiB) take two parts, gate_up (1.5 MiB) three */
    vkr_ctx_limit_storage_range_for_test(ctx, 512 << 10);
    check_model(ctx, model, " (512 KiB bindings)");
    vkr_ctx_limit_storage_range_for_test(ctx, 0);
}

int main(void) {
    vkr_ctx *ctx = vkt_ctx();
    const vkr_device_info *d = vkr_ctx_device(ctx);
    vkr_subgroup_facts f;
    CHECK(vkr_subgroup_probe(ctx, &f) == 0, "probe: %s", vkr_ctx_error(ctx));
    printf("device %s (%s), subgroup reported %u (min %u, max %u), probe: %u lanes run, %u subgroups of %u\n",
           d->name, d->driver_info, d->subgroup_size, d->min_subgroup_size, d->max_subgroup_size, f.lanes,
           f.subgroups, f.invocations);
    CHECK(f.lanes >= 1 && f.lanes <= f.invocations && f.subgroups >= 1, "probe: %u lanes, %u subgroups", f.lanes,
          f.subgroups);
    char err[512];
    eng_check_ref *model = eng_check_ref_create(err, sizeof err);
    CHECK(model != NULL, "reference: %s", err);
    if (!model) return test_finish();
    for (int i = 0; vkr_device_profile_names[i]; i++) {
        CHECK(vkr_ctx_use_profile(ctx, vkr_device_profile_names[i]) == 0, "%s", vkr_ctx_error(ctx));
        check_profile(ctx, model);
    }
    /* Phi-3-mini's fp16 lm_head, 197 MB, past lavapipe's 128 MiB storage
     * range, at one token with the device's own profile: Mesa 25.0's texel
     * path crashed here at 1024 and 2048 bits (README, "Driver quirks"). */
    vkr_ctx_use_profile(ctx, "auto");
    check_lm_head(ctx);
    /* The portable kernels of every family (what a failed self-test runs). */
    vkr_ctx_use_profile(ctx, "nvidia");
    vkr_ctx_profile_mut(ctx)->fallbacks = (1u << VKR_KERNEL_FAMILIES) - 1;
    check_profile(ctx, model);
    eng_check_ref_free(model);
    CHECK(vkt_ctx_done(ctx) == 0, "validation messages");
    return test_finish();
}
