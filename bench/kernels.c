#include "bench/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/f16.h"
#include "vk/ops.h"
#include "vk/ops_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* xorshift values in [-1, 1), rounded to fp16. */
static void fill_f16(uint16_t *h, uint64_t n, uint64_t ld, uint64_t cols, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        float v = ((float)(s >> 40) / 8388608.0f - 1.0f) * scale;
        h[i] = (i % ld) < cols ? phi3_f32_to_f16(v) : 0;
    }
}

int bench_kernel_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int reps, bench_kernel_result *out) {
    uint32_t ld = vkr_ld(k);
    uint64_t wn = (uint64_t)n * ld, xn = (uint64_t)t * ld;
    int rc = -1;
    uint16_t *w = malloc(wn * 2), *x = malloc(xn * 2);
    float *y = malloc((uint64_t)t * n * 4);
    vkr_buffer *bw = NULL, *bx = NULL, *by = NULL;
    vkr_cmd *cmd = NULL;
    if (!w || !x || !y) goto done;
    fill_f16(w, wn, ld, k, 1, 0.05f);
    fill_f16(x, xn, ld, k, 2, 1.0f);
    bw = vkr_buffer_create(ctx, "bench.w", wn * 2, VKR_BUF_WEIGHT);
    bx = vkr_buffer_create(ctx, "bench.x", xn * 2, VKR_BUF_DEVICE);
    by = vkr_buffer_create(ctx, "bench.y", (uint64_t)t * n * 4, VKR_BUF_DEVICE);
    cmd = vkr_cmd_create(ctx, "bench.matmul");
    if (!bw || !bx || !by || !cmd || vkr_buffer_write(ctx, bw, 0, w, wn * 2) || vkr_buffer_write(ctx, bx, 0, x, xn * 2))
        goto done;
    vkr_matmul_args a = {.weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k, .n_tokens = t};
    if (vkr_cmd_begin(cmd)) goto done;
    vkr_op_matmul(cmd, &a);
    if (vkr_cmd_end(cmd) || vkr_cmd_run(cmd)) goto done; /* warm-up: pipeline creation, page faults */
    if (vkr_cmd_begin(cmd)) goto done;
    for (int i = 0; i < reps; i++) vkr_op_matmul(cmd, &a);
    if (vkr_cmd_end(cmd)) goto done;
    double t0 = now_s();
    if (vkr_cmd_run(cmd)) goto done;
    double dt = (now_s() - t0) / reps;
    if (vkr_buffer_read(ctx, by, 0, y, (uint64_t)t * n * 4)) goto done;

    /* Check 64 rows of every token against a double-precision reference. */
    double num = 0, den = 0;
    for (uint32_t ti = 0; ti < t; ti++)
        for (uint32_t r = 0; r < n && r < 64; r++) {
            double s = 0;
            for (uint32_t c = 0; c < k; c++)
                s += (double)phi3_f16_to_f32(w[(uint64_t)r * ld + c]) * phi3_f16_to_f32(x[(uint64_t)ti * ld + c]);
            double d = y[(uint64_t)ti * n + r] - s;
            num += d * d, den += s * s;
        }
    memset(out, 0, sizeof *out);
    vkr_matmul_args shape = {.n_out = n, .n_in = k, .n_tokens = t};
    int mv = vkr_matmul_tune_for(vkr_ctx_device(ctx), &shape).kernel == VKR_MATMUL_MATVEC;
    snprintf(out->name, sizeof out->name, "%s %ux%u t=%u", mv ? "matvec" : "matmul", n, k, t);
    out->ms = dt * 1e3;
    out->gbps = (double)n * k * 2 / dt / 1e9;
    out->gflops = 2.0 * n * k * t / dt / 1e9;
    out->check_nmse = den > 0 ? num / den : num;
    rc = 0;
done:
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    free(w), free(x), free(y);
    return rc;
}
