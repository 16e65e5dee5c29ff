/* rmsnorm, matvec and matmul on the device against a plain-C reference, for
 * fp16 weights and every block type (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K).
 *
 * Bounds (normalized MSE = sum (gpu - ref)^2 / sum ref^2):
 * - matvec / matmul write fp32 and accumulate in fp32 over the same fp16
 *   inputs as the reference (which sums in double): only summation order
 *   differs, ~1e-7 relative per element, so nmse <= 1e-10. A block-type
 *   weight is quantized on the host and the reference multiplies its
 *   dequantized values (formats/quant.h), so the kernels' dequantizing in
 *   registers is held to the same bound.
 * - rmsnorm writes fp16: rounding alone gives nmse ~ 2^-22 / 3 ~ 8e-8, so
 *   nmse <= 1e-6.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/quant.h"
#include "lib/check.h"
#include "lib/ref_ops.h"
#include "lib/vktest.h"
#include "kernels/tune.h"

#define MATMUL_BOUND 1e-10
#define RMSNORM_BOUND 1e-6

static float *randv(test_rng *r, size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = test_rng_normal(r) * scale;
    vkt_round_f16(v, n);
    return v;
}

static const char *kernel_name(const kern_matmul_tune *tune) {
    if (!tune) return "auto";
    switch (tune->kernel) {
    case KERN_MATMUL_MATVEC: return "matvec";
    case KERN_MATMUL_REGISTER: return "register";
    case KERN_MATMUL_TILED: return "tiled";
    }
    return "?";
}

/* One way to run a matmul: a device profile, and a forced kernel (NULL: the
 * one kern_matmul picks under that profile). */
typedef struct mm_run {
    const char *profile;
    const kern_matmul_tune *tune;
} mm_run;

/* Every profile's own choice: on lavapipe this runs the CPU kernels and each
 * GPU vendor's matvec layout and storage-buffer loads. */
static const mm_run ALL_PROFILES[] = {{"cpu", NULL}, {"nvidia", NULL}, {"amd", NULL}, {"intel", NULL}, {"gpu", NULL}};
#define N_ALL (int)(sizeof ALL_PROFILES / sizeof ALL_PROFILES[0])

/* One matmul of W [n, k] (dtype) by T tokens, optionally accumulating into
 * y, run each way of runs on the same inputs, so the Phi-3 sizes pay for
 * their weights and reference once. */
static void check_matmul_runs_q(vkr_ctx *ctx, uint32_t dtype, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed,
                                const mm_run *runs, int n_runs) {
    test_rng r = {seed};
    float *w = randv(&r, (size_t)n * k, 0.05f), *x = randv(&r, (size_t)t * k, 1.0f);
    float *y0 = randv(&r, (size_t)t * n, 1.0f), *ref = malloc((size_t)t * n * sizeof *ref);
    float *got = malloc((size_t)t * n * sizeof *got);
    /* a K-quant's min term matters only when a sub-block is not centred on 0 */
    if (dtype == FMT_GGML_Q4_K || dtype == FMT_GGML_Q5_K)
        for (size_t i = 0; i < (size_t)n * k; i++) w[i] += 0.02f * (float)((i / 32) % 5) - 0.03f;
    vkr_buffer *bw = vkt_weight_q(ctx, "w", dtype, w, n, k), *bx = vkt_f16(ctx, "x", x, t, k);
    memcpy(ref, y0, (size_t)t * n * sizeof *ref);
    ref_matmul(w, x, ref, n, k, t, acc);

    vkr_buffer *by = vkt_raw(ctx, "y", NULL, (uint64_t)t * n * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "matmul");
    CHECK(bw && bx && by && cmd, "setup: %s", vkr_ctx_error(ctx));
    for (int i = 0; bw && bx && by && cmd && i < n_runs; i++) {
        const kern_matmul_tune *tune = runs[i].tune;
        CHECK(vkr_ctx_use_profile(ctx, runs[i].profile) == 0, "profile %s: %s", runs[i].profile, vkr_ctx_error(ctx));
        kern_matmul_args a = {
            .weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k, .n_tokens = t, .accumulate = acc};
        int ok = vkr_buffer_write(ctx, by, 0, y0, (uint64_t)t * n * 4) == 0 && vkr_cmd_begin(cmd) == 0;
        if (tune) kern_matmul_tuned(cmd, &a, tune);
        else kern_matmul(cmd, &a);
        ok = ok && vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 &&
             vkr_buffer_read(ctx, by, 0, got, (uint64_t)t * n * 4) == 0;
        CHECK(ok, "run: %s", vkr_ctx_error(ctx));
        double e = test_nmse(got, ref, (size_t)t * n);
        CHECK(e <= MATMUL_BOUND, "matmul %s %s/%s n=%u k=%u t=%u acc=%d: nmse %.3g > %.0e", fmt_ggml_type_name(dtype),
              runs[i].profile, kernel_name(tune), n, k, t, acc, e, MATMUL_BOUND);
        printf("matmul %-4s %-6s %-6s %5u x %5u, %3u tokens%s: nmse %.2e", fmt_ggml_type_name(dtype), runs[i].profile,
               kernel_name(tune), n, k, t, acc ? " +=" : "   ", e);
        if (tune && tune->kernel == KERN_MATMUL_TILED)
            printf(" (tiles %ux%ux%u, %ux%u)", tune->bm, tune->bn, tune->bk, tune->tm, tune->tn);
        printf("\n");
    }
    vkr_ctx_use_profile(ctx, "auto");
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw);
    vkr_buffer_destroy(ctx, bx);
    vkr_buffer_destroy(ctx, by);
    free(w), free(x), free(y0), free(ref), free(got);
}

static void check_matmul_runs(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed,
                              const mm_run *runs, int n_runs) {
    check_matmul_runs_q(ctx, FMT_GGML_F16, n, k, t, acc, seed, runs, n_runs);
}

/* Under every profile. */
static void check_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int acc, uint64_t seed) {
    check_matmul_runs(ctx, n, k, t, acc, seed, ALL_PROFILES, N_ALL);
}

/* With one forced kernel under profile prof. */
static void check_matmul_tuned(vkr_ctx *ctx, const char *prof, uint32_t n, uint32_t k, uint32_t t, int acc,
                               uint64_t seed, const kern_matmul_tune *tune) {
    check_matmul_runs(ctx, n, k, t, acc, seed, &(mm_run){prof, tune}, 1);
}

static vkr_device_profile profile(const vkr_device_info *d, const char *name) {
    vkr_device_profile p;
    char err[256];
    CHECK(vkr_device_profile_pick(d, name, &p, err, sizeof err) == 0, "%s", err);
    return p;
}

/* The kernel choice: matvec up to 4 tokens with the CPU profile and 8 with
 * GPU profiles, then the register-blocked kernel (CPU) or the tiled one,
 * with tiles that fit the device, on GPUs. */
static void check_matmul_choice(const vkr_device_info *d) {
    vkr_device_profile cpu = profile(d, "cpu"), gpu = profile(d, "nvidia");
    kern_matmul_args few = {.n_out = 3072, .n_in = 3072, .n_tokens = 8}, many = few, four = few, five = few;
    many.n_tokens = 9;
    four.n_tokens = 4;
    five.n_tokens = 5;
    CHECK(kern_matmul_tune_for(&cpu, d, &four).kernel == KERN_MATMUL_MATVEC, "cpu, 4 tokens: matvec");
    CHECK(kern_matmul_tune_for(&cpu, d, &five).kernel == KERN_MATMUL_REGISTER, "cpu, 5 tokens: register-blocked");
    CHECK(kern_matmul_tune_for(&gpu, d, &few).kernel == KERN_MATMUL_MATVEC, "gpu, 8 tokens: matvec");
    CHECK(kern_matmul_tune_for(&cpu, d, &many).kernel == KERN_MATMUL_REGISTER, "cpu, 9 tokens: register-blocked");
    vkr_device_info big = *d;
    big.max_workgroup_invocations = 1024;
    big.shared_memory = 49152;
    kern_matmul_tune t = kern_matmul_tune_for(&gpu, &big, &many);
    CHECK(t.kernel == KERN_MATMUL_TILED && t.bm == 64 && t.bn == 64 && t.bk == 32 && t.tm == 4 && t.tn == 4,
          "gpu, 9 tokens: tiled 64x64x32, 4x4; got kernel %d, %ux%ux%u, %ux%u", (int)t.kernel, t.bm, t.bn, t.bk, t.tm,
          t.tn);
    /* The Vulkan minimums (128 invocations, 16 KiB of shared memory) shrink the tiles. */
    vkr_device_info small = *d;
    small.max_workgroup_invocations = 128;
    small.shared_memory = 16384;
    t = kern_matmul_tune_for(&gpu, &small, &many);
    CHECK(t.kernel == KERN_MATMUL_TILED && (t.bm / t.tm) * (t.bn / t.tn) <= 128 &&
              (uint64_t)t.bk * (t.bm + t.bn + 2) * 4 <= 16384 && t.bk % 8 == 0,
          "small gpu: tiles %ux%ux%u, %ux%u do not fit 128 invocations and 16 KiB", t.bm, t.bn, t.bk, t.tm, t.tn);
}

/* Tiles that do not divide, or do not fit the device, fail the recording. */
static void check_matmul_bad_tiles(vkr_ctx *ctx) {
    const vkr_device_info *d = vkr_ctx_device(ctx);
    const kern_matmul_tune bad[] = {
        {.kernel = KERN_MATMUL_TILED, .bm = 64, .bn = 64, .bk = 32, .tm = 3, .tn = 4},   /* BM % TM */
        {.kernel = KERN_MATMUL_TILED, .bm = 64, .bn = 64, .bk = 20, .tm = 4, .tn = 4},   /* BK % 8 */
        {.kernel = KERN_MATMUL_TILED, .bm = 64, .bn = 64, .bk = 32, .tm = 1, .tn = 1},   /* 4096 invocations */
        {.kernel = KERN_MATMUL_TILED, .bm = 256, .bn = 256, .bk = 64, .tm = 16, .tn = 16}, /* 131 KB shared */
    };
    static const float zero[16 * 16];
    vkr_buffer *bw = vkt_weight(ctx, "w", zero, 16, 16), *bx = vkt_f16(ctx, "x", zero, 9, 16);
    vkr_buffer *by = vkt_raw(ctx, "y", zero, 9 * 16 * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "bad tiles");
    CHECK(bw && bx && by && cmd, "setup: %s", vkr_ctx_error(ctx));
    for (size_t i = 0; bw && bx && by && cmd && i < sizeof bad / sizeof *bad; i++) {
        uint64_t shared = (uint64_t)bad[i].bk * (bad[i].bm + bad[i].bn + 2) * 4;
        if (bad[i].bm == 256 && shared <= d->shared_memory) continue; /* fits this device */
        vkr_cmd_begin(cmd);
        kern_matmul_tuned(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = 16, .n_in = 16,
                                                     .n_tokens = 9}, &bad[i]);
        CHECK(vkr_cmd_end(cmd) != 0, "tiles %ux%ux%u, %ux%u were accepted", bad[i].bm, bad[i].bn, bad[i].bk,
              bad[i].tm, bad[i].tn);
        CHECK(strstr(vkr_ctx_error(ctx), "tiles BM") != NULL, "message: %s", vkr_ctx_error(ctx));
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
}

static void check_rmsnorm(vkr_ctx *ctx, uint32_t n, uint32_t t, uint64_t seed) {
    test_rng r = {seed};
    float *x = randv(&r, (size_t)t * n, 3.0f), *w = randv(&r, n, 1.0f);
    float *ref = malloc((size_t)t * n * 4), *got = malloc((size_t)t * n * 4);
    const float eps = 1e-5f;
    ref_rmsnorm(x, w, ref, n, t, eps);
    vkr_buffer *bw = vkt_weight(ctx, "norm", w, 1, n), *bx = vkt_raw(ctx, "x", x, (uint64_t)t * n * 4);
    vkr_buffer *by = vkt_f16(ctx, "y", NULL, t, n);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "rmsnorm");
    if (bw && bx && by && cmd) {
        vkr_cmd_begin(cmd);
        kern_rmsnorm(cmd, &(kern_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = n, .n_tokens = t, .eps = eps});
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

/* Every block type through every kernel: decode under every profile at
 * Phi-3-mini's o_proj shape, few tokens at an awkward row count, the
 * storage-x matvec the CPU profile takes when x outgrows a uniform buffer,
 * and prefill by the register-blocked and the tiled kernels (storage and
 * texel loads). */
static void check_quant(vkr_ctx *ctx, const mm_run *prefill, const kern_matmul_tune *tiled) {
    static const uint32_t types[] = {FMT_GGML_Q8_0, FMT_GGML_Q4_0, FMT_GGML_Q4_K, FMT_GGML_Q5_K, FMT_GGML_Q6_K};
    static const kern_matmul_tune mv = {.kernel = KERN_MATMUL_MATVEC};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint32_t q = types[i];
        uint64_t seed = 100 + 10 * i;
        check_matmul_runs_q(ctx, q, 3072, 3072, 1, 1, seed, ALL_PROFILES, N_ALL);
        check_matmul_runs_q(ctx, q, 1001, 512, 3, 0, seed + 1, ALL_PROFILES, N_ALL);
        check_matmul_runs_q(ctx, q, 37, 768, 7, 1, seed + 2, ALL_PROFILES, N_ALL);
        check_matmul_runs_q(ctx, q, 300, 8192, 5, 0, seed + 3, &(mm_run){"cpu", &mv}, 1);
        check_matmul_runs_q(ctx, q, 1003, 512, 77, 1, seed + 4, prefill, 3);
        check_matmul_runs_q(ctx, q, 130, 256, 9, 0, seed + 5, &(mm_run){"nvidia", tiled}, 1);
    }
}

/* A block-type weight whose shape differs from the op's, or whose columns
 * are not whole blocks, fails the recording with a message naming both. */
static void check_quant_bad(vkr_ctx *ctx) {
    float w[64 * 256] = {0};
    vkr_buffer *bw = vkt_weight_q(ctx, "wq", FMT_GGML_Q4_K, w, 64, 256), *bx = vkt_f16(ctx, "x", NULL, 1, 512);
    vkr_buffer *by = vkt_raw(ctx, "y", NULL, 64 * 4);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "bad quant");
    CHECK(bw && bx && by && cmd, "setup: %s", vkr_ctx_error(ctx));
    if (bw && bx && by && cmd) {
        vkr_cmd_begin(cmd);
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = 64, .n_in = 512, .n_tokens = 1});
        CHECK(vkr_cmd_end(cmd) != 0 && strstr(vkr_ctx_error(ctx), "[64, 256] Q4_K"), "shape mismatch: %s",
              vkr_ctx_error(ctx));
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    CHECK(kern_weight_row_bytes(FMT_GGML_Q4_K, 200) == 0 && kern_weight_row_bytes(FMT_GGML_Q8_0, 200) == 0,
          "200 columns are no whole number of blocks");
    CHECK(kern_weight_row_bytes(FMT_GGML_Q8_0, 3072) == 3264 && kern_weight_row_bytes(FMT_GGML_Q4_0, 3072) == 1728 &&
              kern_weight_row_bytes(FMT_GGML_Q4_K, 3072) == 1728 && kern_weight_row_bytes(FMT_GGML_Q6_K, 3072) == 2528,
          "device row bytes of 3072 values");
}

int main(void) {
    vkr_ctx *ctx = vkt_ctx();
    /* The GPU prefill kernel (shared-memory tiles) runs on this device too,
     * with the tiles a GPU profile picks for this device's limits: through
     * storage buffers (GPU profiles) and through texel buffers (the CPU
     * profile: weights over maxStorageBufferRange take that path on GPUs). */
    vkr_device_profile nv = profile(vkr_ctx_device(ctx), "nvidia");
    kern_matmul_tune tiled =
        kern_matmul_tune_for(&nv, vkr_ctx_device(ctx), &(kern_matmul_args){.n_out = 1, .n_in = 1, .n_tokens = 9});
    const mm_run prefill[] = {{"cpu", NULL}, {"nvidia", NULL}, {"cpu", &tiled}};

    /* RMSNorm: Phi-3 hidden size, an awkward one, 1 and 7 tokens. */
    for (int i = 0; i < N_ALL; i++) {
        vkr_ctx_use_profile(ctx, ALL_PROFILES[i].profile);
        check_rmsnorm(ctx, 3072, 1, 1);
        check_rmsnorm(ctx, 3072, 7, 2);
        check_rmsnorm(ctx, 100, 3, 3);
    }
    vkr_ctx_use_profile(ctx, "auto");

    /* Decode (matvec): Phi-3-mini's qkv, o, gate_up and down at 1 token. */
    check_matmul(ctx, 9216, 3072, 1, 0, 10);
    check_matmul(ctx, 3072, 3072, 1, 1, 11);
    check_matmul(ctx, 16384, 3072, 1, 0, 12);
    check_matmul(ctx, 3072, 8192, 1, 1, 13);
    /* Batched decode and awkward sizes: rows and columns that are multiples
     * of nothing the kernels tile by; 7 tokens runs NT=4 passes with a tail. */
    check_matmul(ctx, 1001, 3000, 7, 0, 14);
    /* 5..8 tokens run matvec on GPUs: checked with the CPU's load paths too. */
    static const kern_matmul_tune mv = {.kernel = KERN_MATMUL_MATVEC};
    check_matmul_tuned(ctx, "cpu", 1001, 3000, 7, 1, 17, &mv);
    check_matmul_tuned(ctx, "cpu", 9216, 3072, 8, 0, 18, &mv);
    check_matmul(ctx, 37, 13, 2, 1, 15);
    check_matmul(ctx, 5, 8, 3, 0, 16);
    /* Prefill, by each kernel: 64 tokens of qkv, 9 of down (fused
     * residual), odd shapes and token counts. */
    check_matmul_runs(ctx, 9216, 3072, 64, 0, 20, prefill, 3);
    check_matmul_runs(ctx, 3072, 8192, 9, 1, 21, prefill, 3);
    check_matmul_runs(ctx, 1003, 203, 77, 1, 22, prefill, 3);
    /* lm_head: 32064 x 3072 fp16 = 197 MB, over lavapipe's 128 MiB
     * maxStorageBufferRange: GPU profiles fall back to the texel path. */
    check_matmul(ctx, 32064, 3072, 1, 0, 30);
    check_matmul_runs(ctx, 32064, 3072, 12, 0, 31, prefill, 2);

    /* Tiled kernel edges: N, T and K multiples of no tile (ld 200: 25
     * texels, a 1-texel tail step), a matrix smaller than one tile with K
     * below one step, then other tile shapes (several texels per invocation
     * and step; an x tile with fewer texels than invocations). */
    check_matmul_choice(vkr_ctx_device(ctx));
    for (int sb = 0; sb < 2; sb++) {
        const char *prof = sb ? "nvidia" : "cpu";
        check_matmul_tuned(ctx, prof, 1000, 200, 9, 0, 40, &tiled);
        check_matmul_tuned(ctx, prof, 1000, 200, 33, 1, 41, &tiled);
        check_matmul_tuned(ctx, prof, 1000, 200, 130, 0, 42, &tiled);
        check_matmul_tuned(ctx, prof, 37, 13, 9, 1, 43, &tiled);
    }
    const kern_matmul_tune other[] = {
        {.kernel = KERN_MATMUL_TILED, .bm = 64, .bn = 32, .bk = 32, .tm = 8, .tn = 4}, /* 64 invocations, 4 + 2 texels */
        {.kernel = KERN_MATMUL_TILED, .bm = 32, .bn = 16, .bk = 16, .tm = 2, .tn = 4}, /* 64 invocations, 1 + 0.5 */
    };
    for (int i = 0; i < 2; i++) {
        check_matmul_tuned(ctx, "nvidia", 1000, 200, 33, 1, 50 + i, &other[i]);
        check_matmul_tuned(ctx, "cpu", 1003, 203, 130, 0, 52 + i, &other[i]);
    }
    check_matmul_bad_tiles(ctx);
    check_quant(ctx, prefill, &tiled);
    check_quant_bad(ctx);

    CHECK(vkt_ctx_done(ctx) == 0, "validation layer messages");
    return test_finish();
}
