/* rmsnorm, matvec and matmul on the device against a plain-C reference.
 *
 * Bounds (normalized MSE = sum (gpu - ref)^2 / sum ref^2):
 * - matvec / matmul write fp32 and accumulate in fp32 over the same fp16
 *   inputs as the reference (which sums in double): only summation order
 *   differs, ~1e-7 relative per element, so nmse <= 1e-10.
 * - rmsnorm writes fp16: rounding alone gives nmse ~ 2^-22 / 3 ~ 8e-8, so
 *   nmse <= 1e-6.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/vktest.h"
#include "vk/ops.h"

#define MATMUL_BOUND 1e-10
#define RMSNORM_BOUND 1e-6

static float *randv(test_rng *r, size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = test_rng_normal(r) * scale;
    vkt_round_f16(v, n);
    return v;
}

static void ref_matmul(const float *w, const float *x, float *y, uint32_t n, uint32_t k, uint32_t t, int acc) {
    for (uint32_t ti = 0; ti < t; ti++)
        for (uint32_t ni = 0; ni < n; ni++) {
            double s = 0;
            for (uint32_t ki = 0; ki < k; ki++) s += (double)w[(size_t)ni * k + ki] * x[(size_t)ti * k + ki];
            y[(size_t)ti * n + ni] = (float)(acc ? y[(size_t)ti * n + ni] + s : s);
        }
}

/* One matmul of W [n, k] by T tokens, optionally accumulating into y. */
static void check_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed) {
    test_rng r = {seed};
    float *w = randv(&r, (size_t)n * k, 0.05f), *x = randv(&r, (size_t)t * k, 1.0f);
    float *y0 = randv(&r, (size_t)t * n, 1.0f), *ref = malloc((size_t)t * n * sizeof *ref);
    float *got = malloc((size_t)t * n * sizeof *got);
    memcpy(ref, y0, (size_t)t * n * sizeof *ref);
    ref_matmul(w, x, ref, n, k, t, acc);

    vkr_buffer *bw = vkt_weight(ctx, "w", w, n, k), *bx = vkt_f16(ctx, "x", x, t, k);
    vkr_buffer *by = vkt_raw(ctx, "y", y0, (uint64_t)t * n * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "matmul");
    CHECK(bw && bx && by && cmd, "setup: %s", vkr_ctx_error(ctx));
    if (bw && bx && by && cmd) {
        vkr_cmd_begin(cmd);
        vkr_op_matmul(cmd, &(vkr_matmul_args){
            .weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k, .n_tokens = t, .accumulate = acc});
        int ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkr_buffer_read(ctx, by, 0, got, (uint64_t)t * n * 4) == 0;
        CHECK(ok, "run: %s", vkr_ctx_error(ctx));
        double e = test_nmse(got, ref, (size_t)t * n);
        CHECK(e <= MATMUL_BOUND, "matmul n=%u k=%u t=%u acc=%d: nmse %.3g > %.0e", n, k, t, acc, e, MATMUL_BOUND);
        printf("matmul %5u x %5u, %3u tokens%s: nmse %.2e\n", n, k, t, acc ? " +=" : "   ", e);
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw);
    vkr_buffer_destroy(ctx, bx);
    vkr_buffer_destroy(ctx, by);
    free(w), free(x), free(y0), free(ref), free(got);
}

static void check_rmsnorm(vkr_ctx *ctx, uint32_t n, uint32_t t, uint64_t seed) {
    test_rng r = {seed};
    float *x = randv(&r, (size_t)t * n, 3.0f), *w = randv(&r, n, 1.0f);
    float *ref = malloc((size_t)t * n * 4), *got = malloc((size_t)t * n * 4);
    const float eps = 1e-5f;
    for (uint32_t ti = 0; ti < t; ti++) {
        double ss = 0;
        for (uint32_t i = 0; i < n; i++) ss += (double)x[ti * n + i] * x[ti * n + i];
        double s = 1.0 / sqrt(ss / n + eps);
        for (uint32_t i = 0; i < n; i++) ref[ti * n + i] = (float)(x[ti * n + i] * s * w[i]);
    }
    vkr_buffer *bw = vkt_weight(ctx, "norm", w, 1, n), *bx = vkt_raw(ctx, "x", x, (uint64_t)t * n * 4);
    vkr_buffer *by = vkt_f16(ctx, "y", NULL, t, n);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "rmsnorm");
    if (bw && bx && by && cmd) {
        vkr_cmd_begin(cmd);
        vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = n, .n_tokens = t, .eps = eps});
        int ok = !vkr_cmd_end(cmd) && !vkr_cmd_run(cmd) && !vkt_read_f16(ctx, by, got, t, n);
        CHECK(ok, "rmsnorm run: %s", vkr_ctx_error(ctx));
        double e = test_nmse(got, ref, (size_t)t * n);
        CHECK(e <= RMSNORM_BOUND, "rmsnorm n=%u t=%u: nmse %.3g", n, t, e);
        printf("rmsnorm %5u, %3u tokens: nmse %.2e\n", n, t, e);
    } else {
        CHECK(0, "rmsnorm setup: %s", vkr_ctx_error(ctx));
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    free(x), free(w), free(ref), free(got);
}

int main(void) {
    vkr_ctx *ctx = vkt_ctx();
    /* RMSNorm: Phi-3 hidden size, an awkward one, 1 and 7 tokens. */
    check_rmsnorm(ctx, 3072, 1, 1);
    check_rmsnorm(ctx, 3072, 7, 2);
    check_rmsnorm(ctx, 100, 3, 3);

    /* Decode (matvec): Phi-3-mini's qkv, o, gate_up and down at 1 token. */
    check_matmul(ctx, 9216, 3072, 1, 0, 10);
    check_matmul(ctx, 3072, 3072, 1, 1, 11);
    check_matmul(ctx, 16384, 3072, 1, 0, 12);
    check_matmul(ctx, 3072, 8192, 1, 1, 13);
    /* Batched decode and awkward sizes: rows and columns that are multiples
     * of nothing the kernels tile by; 7 tokens runs NT=4 passes with a tail. */
    check_matmul(ctx, 1001, 3000, 7, 0, 14);
    check_matmul(ctx, 37, 13, 2, 1, 15);
    check_matmul(ctx, 5, 8, 3, 0, 16);
    /* Prefill (tiled matmul): 64 tokens of qkv, odd shapes and token counts. */
    check_matmul(ctx, 9216, 3072, 64, 0, 20);
    check_matmul(ctx, 3072, 8192, 9, 1, 21);
    check_matmul(ctx, 1003, 203, 77, 1, 22);
    /* lm_head: 32064 x 3072 fp16 = 197 MB, over lavapipe's 128 MiB
     * maxStorageBufferRange; read through the texel view it must work. */
    check_matmul(ctx, 32064, 3072, 1, 0, 30);
    check_matmul(ctx, 32064, 3072, 12, 0, 31);

    CHECK(vkt_ctx_done(ctx) == 0, "validation layer messages");
    return test_finish();
}
