/* Embedding gather, SiLU(gate) * up and argmax on the device against plain C.
 *
 * Bounds:
 * - embed converts fp16 to fp32, which is exact: results must be identical,
 *   also for rows past 128 MiB of Phi-3's 197 MB embedding table.
 * - silu_mul writes fp16: rounding alone gives nmse ~ 2^-22 / 3 ~ 8e-8 (round
 *   to nearest; ~3e-7 where the device truncates), and fp32 exp adds ~1e-7
 *   relative, so nmse <= 1e-6. The pad columns must come out zero.
 * - argmax must be exact: the lowest index among equal maxima, NaN never
 *   chosen, 0xFFFFFFFF for a row of NaN only. The GPU workgroup sizes (several
 *   subgroups meeting in shared memory, a partial subgroup) run here too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/vktest.h"
#include "formats/f16.h"
#include "kernels/kernels.h"
#include "kernels/tune.h"

#define SILU_BOUND 1e-6
#define NONE 0xFFFFFFFFu

/* Records one op through fn(cmd, args), runs it; 0 on success. */
static int run1(vkr_ctx *ctx, void (*record)(vkr_cmd *, const void *), const void *args) {
    vkr_cmd *cmd = vkr_cmd_create(ctx, "misc");
    int ok = cmd && vkr_cmd_begin(cmd) == 0;
    if (ok) record(cmd, args);
    ok = ok && vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0;
    vkr_cmd_destroy(ctx, cmd);
    return ok ? 0 : -1;
}

static void rec_embed(vkr_cmd *c, const void *a) { kern_embed(c, a); }
static void rec_silu(vkr_cmd *c, const void *a) { kern_silu_mul(c, a); }
static void rec_argmax(vkr_cmd *c, const void *a) { kern_argmax(c, a); }

/* ---- embed ------------------------------------------------------------ */

/* A random finite fp16 value (any exponent but inf/NaN, any sign). */
static uint16_t rand_f16(test_rng *r) {
    uint32_t x = (uint32_t)((test_rng_uniform(r) + 1.0f) * 8388608.0f);
    return (uint16_t)((x & 0x83FFu) | (((x >> 10) % 31u) << 10));
}

/* Gathers the rows ids[] of a random [vocab, dim] table; ids >= vocab must
 * produce NaN rows. */
static void check_embed(vkr_ctx *ctx, uint32_t vocab, uint32_t dim, const uint32_t *ids, uint32_t t, uint64_t seed) {
    test_rng r = {seed};
    uint32_t ld = kern_ld(dim);
    uint64_t nw = (uint64_t)vocab * ld;
    uint16_t *w = calloc(nw, 2);
    float *got = malloc((size_t)t * dim * 4);
    for (uint64_t row = 0; row < vocab; row++)
        for (uint32_t c = 0; c < dim; c++) w[row * ld + c] = rand_f16(&r);
    vkr_buffer *bw = vkr_buffer_create(ctx, "embed", nw * 2, VKR_BUF_WEIGHT);
    vkr_buffer *bi = vkt_raw(ctx, "ids", ids, (uint64_t)t * 4), *bo = vkt_raw(ctx, "x", NULL, (uint64_t)t * dim * 4);
    int ok = bw && bi && bo && vkr_buffer_write(ctx, bw, 0, w, nw * 2) == 0;
    CHECK(ok, "setup: %s", vkr_ctx_error(ctx));
    kern_embed_args a = {.weight = bw, .ids = bi, .out = bo, .dim = dim, .n_tokens = t};
    ok = ok && run1(ctx, rec_embed, &a) == 0 && vkr_buffer_read(ctx, bo, 0, got, (uint64_t)t * dim * 4) == 0;
    CHECK(ok, "run: %s", vkr_ctx_error(ctx));
    size_t wrong = 0, first = (size_t)-1;
    for (uint32_t ti = 0; ok && ti < t; ti++)
        for (uint32_t c = 0; c < dim; c++) {
            float g = got[(size_t)ti * dim + c];
            int good = ids[ti] < vocab ? g == fmt_f16_to_f32(w[(uint64_t)ids[ti] * ld + c]) : isnan(g);
            if (!good && wrong++ == 0) first = (size_t)ti * dim + c;
        }
    CHECK(ok && wrong == 0, "embed vocab %u dim %u: %zu wrong values, first at token %zu column %zu", vocab, dim,
          wrong, first / dim, first % dim);
    printf("embed vocab %5u x dim %4u (%.0f MB), %u tokens: %zu wrong\n", vocab, dim, nw * 2 / 1e6, t, wrong);
    vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bi);
    vkr_buffer_destroy(ctx, bw);
    free(w), free(got);
}

/* ---- silu_mul --------------------------------------------------------- */

static void check_silu_mul(vkr_ctx *ctx, uint32_t n_ff, uint32_t t, uint64_t seed) {
    test_rng r = {seed};
    uint32_t ld = kern_ld(n_ff);
    size_t n = (size_t)t * n_ff;
    float *gu = malloc(2 * n * 4), *ref = malloc(n * 4), *got = malloc((size_t)t * ld * 4);
    for (size_t i = 0; i < 2 * n; i++) gu[i] = test_rng_normal(&r) * 3.0f;
    gu[0] = -100.0f, gu[1] = 100.0f; /* e^-g overflows / vanishes */
    for (uint32_t ti = 0; ti < t; ti++)
        for (uint32_t i = 0; i < n_ff; i++) {
            double g = gu[(size_t)ti * 2 * n_ff + i], u = gu[(size_t)ti * 2 * n_ff + n_ff + i];
            ref[(size_t)ti * n_ff + i] = (float)(g / (1.0 + exp(-g)) * u);
        }
    /* Fill the output with NaN first: the pad columns must be rewritten. */
    uint16_t *nan = malloc((size_t)t * ld * 2);
    for (size_t i = 0; i < (size_t)t * ld; i++) nan[i] = 0x7E00;
    vkr_buffer *bg = vkt_raw(ctx, "gate_up", gu, 2 * n * 4), *bo = vkt_raw(ctx, "act", nan, (uint64_t)t * ld * 2);
    CHECK(bg && bo, "setup: %s", vkr_ctx_error(ctx));
    kern_silu_mul_args a = {.gate_up = bg, .out = bo, .n_ff = n_ff, .n_tokens = t};
    int ok = bg && bo && run1(ctx, rec_silu, &a) == 0 && vkt_read_f16(ctx, bo, got, t, ld) == 0;
    CHECK(ok, "run: %s", vkr_ctx_error(ctx));
    size_t bad_pad = 0;
    for (uint32_t ti = 0; ok && ti < t; ti++) {
        for (uint32_t i = n_ff; i < ld; i++) bad_pad += got[(size_t)ti * ld + i] != 0.0f;
        memmove(got + (size_t)ti * n_ff, got + (size_t)ti * ld, n_ff * 4);
    }
    double e = ok ? test_nmse(got, ref, n) : INFINITY;
    CHECK(e <= SILU_BOUND, "silu_mul n_ff %u T %u: nmse %.3g > %.0e", n_ff, t, e, SILU_BOUND);
    CHECK(bad_pad == 0, "silu_mul n_ff %u: %zu pad values not zero", n_ff, bad_pad);
    printf("silu_mul n_ff %5u, %3u tokens: nmse %.2e\n", n_ff, t, e);
    vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bg);
    free(gu), free(ref), free(got), free(nan);
}

/* ---- argmax ----------------------------------------------------------- */

static uint32_t ref_argmax(const float *x, uint32_t n) {
    uint32_t best = NONE;
    for (uint32_t i = 0; i < n; i++)
        if (!isnan(x[i]) && (best == NONE || x[i] > x[best])) best = i;
    return best;
}

typedef struct argmax_run {
    kern_argmax_args a;
    uint32_t wg;          /* 0: the device's choice */
} argmax_run;

static void rec_argmax_wg(vkr_cmd *c, const void *p) {
    const argmax_run *r = p;
    kern_argmax_wg(c, &r->a, r->wg);
}

/* Rows: random; a tie of the maximum at 4 places; the maximum last; NaN
 * around a maximum at 0; all -inf; all NaN; then random rows. */
static void check_argmax(vkr_ctx *ctx, uint32_t vocab, uint32_t t, uint32_t wg, uint64_t seed) {
    test_rng r = {seed};
    float *x = malloc((size_t)t * vocab * 4);
    uint32_t got[64], want[64];
    for (size_t i = 0; i < (size_t)t * vocab; i++) x[i] = test_rng_normal(&r);
    for (uint32_t ti = 0; ti < t; ti++) {
        float *row = x + (size_t)ti * vocab;
        uint32_t kind = ti % 8;
        if (kind == 1) {
            const uint32_t at[] = {vocab - 1, vocab * 5 / 8, (vocab / 3 + 1) % vocab, (vocab / 3 + 257) % vocab};
            for (int k = 0; k < 4; k++) row[at[k]] = 9.0f;
        } else if (kind == 2) {
            row[vocab - 1] = 9.0f;
        } else if (kind == 3) {
            row[0] = 9.0f;
            for (uint32_t i = 1; i < vocab; i += 3) row[i] = NAN;
        } else if (kind == 4) {
            for (uint32_t i = 0; i < vocab; i++) row[i] = -INFINITY;
        } else if (kind == 5) {
            for (uint32_t i = 0; i < vocab; i++) row[i] = NAN;
        }
        want[ti] = ref_argmax(row, vocab);
    }
    vkr_buffer *bl = vkt_raw(ctx, "logits", x, (uint64_t)t * vocab * 4), *bo = vkt_raw(ctx, "ids", NULL, t * 4);
    CHECK(bl && bo, "setup: %s", vkr_ctx_error(ctx));
    argmax_run run = {.a = {.logits = bl, .out = bo, .n_vocab = vocab, .n_tokens = t}, .wg = wg};
    int ok = bl && bo && (wg ? run1(ctx, rec_argmax_wg, &run) : run1(ctx, rec_argmax, &run.a)) == 0 &&
             vkr_buffer_read(ctx, bo, 0, got, t * 4) == 0;
    CHECK(ok, "run: %s", vkr_ctx_error(ctx));
    int wrong = 0;
    for (uint32_t ti = 0; ok && ti < t; ti++) {
        CHECK(got[ti] == want[ti], "argmax vocab %u wg %u row %u: got %u, want %u", vocab, wg, ti, got[ti], want[ti]);
        wrong += got[ti] != want[ti];
    }
    printf("argmax vocab %5u, %2u tokens, workgroup %3u%s: %d wrong\n", vocab, t, wg, wg ? "" : " (default)", wrong);
    vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bl);
    free(x);
}

static void check_errors(vkr_ctx *ctx) {
    vkr_buffer *b = vkr_buffer_create(ctx, "small", 64, VKR_BUF_DEVICE);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "errors");
    CHECK(b && cmd, "setup: %s", vkr_ctx_error(ctx));
    if (!b || !cmd) goto done;
    vkr_cmd_begin(cmd);
    kern_silu_mul(cmd, &(kern_silu_mul_args){.gate_up = b, .out = b, .n_ff = 8192, .n_tokens = 1});
    CHECK(vkr_cmd_end(cmd) == -1 && strstr(vkr_ctx_error(ctx), "gate_up buffer small has 64 bytes, needs 65536"),
          "silu_mul: %s", vkr_ctx_error(ctx));
    vkr_cmd_begin(cmd);
    kern_embed(cmd, &(kern_embed_args){.weight = b, .ids = b, .out = b, .dim = 8, .n_tokens = 1});
    CHECK(vkr_cmd_end(cmd) == -1 && strstr(vkr_ctx_error(ctx), "expected a weight buffer"), "embed: %s",
          vkr_ctx_error(ctx));
    vkr_cmd_begin(cmd);
    kern_argmax(cmd, &(kern_argmax_args){.logits = b, .out = b, .n_vocab = 0, .n_tokens = 1});
    CHECK(vkr_cmd_end(cmd) == -1 && strstr(vkr_ctx_error(ctx), "n_vocab 0"), "argmax: %s", vkr_ctx_error(ctx));
done:
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, b);
}

int main(void) {
    vkr_ctx *ctx = vkt_ctx();
    /* Phi-3's table is 197 MB, beyond lavapipe's 128 MiB storage range:
     * rows 21846.. start past 128 MiB. */
    const uint32_t ids7[] = {0, 32063, 21846, 1, 30000, 21845, 12345};
    check_embed(ctx, 32064, 3072, ids7, 7, 1);
    check_embed(ctx, 32064, 3072, ids7 + 1, 1, 2);
    const uint32_t odd[] = {3, 99, 100, 0, 0xFFFFFFFFu};
    check_embed(ctx, 100, 13, odd, 5, 3);

    check_silu_mul(ctx, 8192, 1, 4);
    check_silu_mul(ctx, 8192, 7, 5);
    check_silu_mul(ctx, 8192, 512, 6);
    check_silu_mul(ctx, 13, 3, 7);

    check_argmax(ctx, 32064, 9, 0, 8);
    check_argmax(ctx, 32064, 1, 0, 9);
    check_argmax(ctx, 32064, 9, 256, 10);
    check_argmax(ctx, 32064, 9, 20, 11);
    check_argmax(ctx, 7, 6, 0, 12);
    check_argmax(ctx, 1, 3, 0, 13);
    check_argmax(ctx, 1000, 9, 1, 14);

    check_errors(ctx);
    CHECK(vkt_ctx_done(ctx) == 0, "validation messages");
    return test_finish();
}
