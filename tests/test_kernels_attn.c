/* RoPE (with the KV cache write) and attention on the device against a
 * plain-C reference, at Phi-3 sizes and awkward ones.
 *
 * Bounds (normalized MSE = sum (gpu - ref)^2 / sum ref^2; references in
 * double over the same fp16-rounded cache and the same fp32 cos/sin table):
 * - rope q is fp32: the device does two fp32 products and a sum per element,
 *   ~1e-7 relative error, so nmse <= 1e-12.
 * - rope k and v land in the fp16 cache: rounding alone gives nmse ~ 2^-22/3
 *   ~ 8e-8 (round to nearest; ~3e-7 for a device that truncates), so
 *   nmse <= 1e-6. Cache rows outside [n_past, n_past + T) must stay zero.
 * - attention writes fp16: the same rounding on top of fp32 softmax sums
 *   (~1e-7 relative per element over <= 4096 keys), so nmse <= 1e-6.
 * The layouts meant for GPUs (lanes per key > 1, several key slots and rows)
 * run here too, with whatever subgroup lavapipe has, through every device
 * profile's load path. Each layout and
 * head_dim is a pipeline that lavapipe JIT-compiles on first use (~1-3 s of
 * CPU, cached on disk by Mesa afterwards), so the list of layouts is short.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/check.h"
#include "lib/ref_ops.h"
#include "lib/vktest.h"
#include "formats/f16.h"
#include "kernels/shaders/common.h"
#include "kernels/kernels.h"
#include "kernels/tune.h"
#include "util/time.h"

#define ROPE_Q_BOUND 1e-12
#define F16_BOUND 1e-6


static float *randv(test_rng *r, size_t n, float scale, int round16) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = test_rng_normal(r) * scale;
    if (round16) vkt_round_f16(v, n);
    return v;
}

/* Where one sequence of a batched step sits (vkr_*_args.row0 / .seq and its
 * step_params.kv_base); all zero for a single sequence. */
typedef struct placement {
    uint32_t row0;     /* first row of the sequence's tokens in q / qkv / out */
    uint32_t seq;      /* its entry in the step_params array */
    uint32_t kv_base;  /* cache row of its position 0 */
} placement;

/* step_params[seq + 1]: the sequence's entry, and absurd values in the
 * others so that reading the wrong one shows. */
static vkr_buffer *params_buffer(vkr_ctx *ctx, uint32_t n_past, uint32_t n_tokens, const placement *pl) {
    uint32_t n = pl->seq + 1;
    vkr_buffer *b = vkr_buffer_create(ctx, "params", n * sizeof(struct step_params), VKR_BUF_HOST);
    struct step_params *sp = b ? vkr_buffer_map(b) : NULL;
    for (uint32_t i = 0; sp && i < n; i++)
        sp[i] = i == pl->seq ? (struct step_params){.n_past = n_past, .n_tokens = n_tokens, .kv_base = pl->kv_base}
                             : (struct step_params){.n_past = 1u << 30, .n_tokens = 1u << 30, .kv_base = 1u << 30};
    return b;
}

/* ---- attention -------------------------------------------------------- */

typedef struct attn_case {
    uint32_t n_heads, n_kv_heads, head_dim, n_tokens, n_past, ctx, window, n_split;
    float q_scale;               /* sd of q: large values test the max subtraction */
    const kern_attn_tune *tune;   /* NULL: the device's default layout */
    placement at;                /* batched sequence placement */
} attn_case;

/* The reference of a case (tests/lib/ref_ops.c). */
static void ref_case(const attn_case *c, const float *q, const float *k, const float *v, float *out) {
    ref_attention(&(ref_attn_shape){c->n_heads, c->n_kv_heads, c->head_dim, c->n_tokens, c->n_past, c->window}, q,
                  k, v, out);
}

static void check_attention(vkr_ctx *ctx, const attn_case *c, uint64_t seed) {
    const vkr_device_info *d = vkr_ctx_device(ctx);
    if (c->tune && c->tune->lanes_per_key > d->subgroup_size) { /* a key's lanes must share a subgroup */
        printf("attention L%u: skipped, subgroups of %u lanes\n", c->tune->lanes_per_key, d->subgroup_size);
        return;
    }
    test_rng r = {seed};
    const placement *pl = &c->at;
    uint32_t hd = c->n_heads * c->head_dim, kvw = c->n_kv_heads * c->head_dim;
    uint32_t qrows = pl->row0 + c->n_tokens, kvrows = pl->kv_base + c->ctx;
    size_t nq = (size_t)c->n_tokens * hd;
    /* Every cache row is filled, also the ones after the last query and
     * before kv_base: they must not be seen. So must q rows before row0. */
    float *q = randv(&r, (size_t)qrows * hd, c->q_scale, 0);
    float *k = randv(&r, (size_t)kvrows * kvw, 1.0f, 1), *v = randv(&r, (size_t)kvrows * kvw, 1.0f, 1);
    float *ref = malloc(nq * sizeof *ref), *got = malloc((size_t)qrows * hd * sizeof *got);
    ref_case(c, q + (size_t)pl->row0 * hd, k + (size_t)pl->kv_base * kvw, v + (size_t)pl->kv_base * kvw, ref);

    uint64_t scratch = kern_attention_scratch_bytes(c->n_heads, c->head_dim, c->n_tokens, c->n_split);
    vkr_buffer *bq = vkt_raw(ctx, "q", q, (uint64_t)qrows * hd * 4), *bk = vkt_f16(ctx, "k_cache", k, kvrows, kvw);
    vkr_buffer *bv = vkt_f16(ctx, "v_cache", v, kvrows, kvw), *bo = vkt_f16(ctx, "out", NULL, qrows, hd);
    vkr_buffer *bp = params_buffer(ctx, c->n_past, c->n_tokens, pl);
    vkr_buffer *bs = scratch ? vkr_buffer_create(ctx, "scratch", scratch, VKR_BUF_DEVICE) : NULL;
    vkr_cmd *cmd = vkr_cmd_create(ctx, "attention");
    int setup = bq && bk && bv && bo && bp && (bs || !scratch) && cmd;
    CHECK(setup, "setup: %s", vkr_ctx_error(ctx));
    if (setup) {
        kern_attention_args a = {.q = bq, .k_cache = bk, .v_cache = bv, .params = bp, .scratch = bs, .out = bo,
                                .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
                                .n_tokens = c->n_tokens, .window = c->window, .n_split = c->n_split,
                                .row0 = pl->row0, .seq = pl->seq};
        vkr_cmd_begin(cmd);
        if (c->tune) kern_attention_tuned(cmd, &a, c->tune);
        else kern_attention(cmd, &a);
        int ok = vkr_cmd_end(cmd) == 0;
        /* The first run includes lavapipe's JIT compile of the pipeline. */
        double t0 = util_now_ms();
        ok = ok && vkr_cmd_run(cmd) == 0;
        double t1 = util_now_ms();
        ok = ok && vkr_cmd_run(cmd) == 0;
        double ms = util_now_ms() - t1, first = t1 - t0;
        ok = ok && vkt_read_f16(ctx, bo, got, qrows, hd) == 0;
        CHECK(ok, "run: %s", vkr_ctx_error(ctx));
        size_t stray = 0; /* rows of other sequences stay untouched (zero) */
        for (size_t i = 0; ok && i < (size_t)pl->row0 * hd; i++) stray += got[i] != 0;
        double e = ok ? test_nmse(got + (size_t)pl->row0 * hd, ref, nq) : INFINITY;
        char lay[48] = "default";
        if (c->tune)
            snprintf(lay, sizeof lay, "L%u KS%u KB%u rows%u", c->tune->lanes_per_key, c->tune->key_slots,
                     c->tune->key_block ? c->tune->key_block : 1, c->tune->rows);
        CHECK(e <= F16_BOUND, "attention %s H %u/%u D %u T %u n_past %u window %u split %u (%s): nmse %.3g > %.0e",
              vkr_ctx_profile(ctx)->name, c->n_heads, c->n_kv_heads, c->head_dim, c->n_tokens, c->n_past, c->window,
              c->n_split, lay, e, F16_BOUND);
        CHECK(stray == 0, "attention wrote %zu values in rows before row0 %u", stray, pl->row0);
        printf("attention %-6s H %2u/%2u D %3u T %3u n_past %4u window %3u split %2u %-16s nmse %.2e %8.2f ms "
               "(first run %.0f ms)%s\n",
               vkr_ctx_profile(ctx)->name, c->n_heads, c->n_kv_heads, c->head_dim, c->n_tokens, c->n_past, c->window,
               c->n_split, lay, e, ms, first, pl->row0 || pl->seq || pl->kv_base ? " batched" : "");
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bs);
    vkr_buffer_destroy(ctx, bp);
    vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bv);
    vkr_buffer_destroy(ctx, bk);
    vkr_buffer_destroy(ctx, bq);
    free(q), free(k), free(v), free(ref), free(got);
}

/* ---- rope ------------------------------------------------------------- */

typedef struct rope_case {
    uint32_t n_heads, n_kv_heads, head_dim, n_tokens, n_past, ctx;
    int longrope;                /* divisors and magnitude scale folded into the table */
    placement at;                /* batched sequence placement */
} rope_case;

/* Rotates one head of x (head_dim values) at position pos into out. */
static void ref_rotate(const float *x, const float *table, uint32_t pos, uint32_t d, double *out) {
    uint32_t half = d / 2;
    for (uint32_t i = 0; i < half; i++) {
        double c = table[((size_t)pos * half + i) * 2], s = table[((size_t)pos * half + i) * 2 + 1];
        out[i] = x[i] * c - x[i + half] * s;
        out[i + half] = x[i + half] * c + x[i] * s;
    }
}

static void check_rope_table(void) {
    float t[2 * 4 * 8], div[4] = {1, 2, 4, 8};
    kern_rope_table(t, 8, 8, 10000.0, NULL, 1.0);
    CHECK(t[0] == 1.0f && t[1] == 0.0f, "position 0: cos %g sin %g", t[0], t[1]);
    CHECK(fabs(t[8] - cos(1.0)) < 1e-7 && fabs(t[9] - sin(1.0)) < 1e-7, "pos 1 i 0: %g %g", t[8], t[9]);
    /* i = 2 of head_dim 8: inv_freq = 10000^(-4/8) = 0.01. */
    CHECK(fabs(t[(3 * 4 + 2) * 2 + 1] - sin(0.03)) < 1e-7, "pos 3 i 2: sin %g", t[(3 * 4 + 2) * 2 + 1]);
    kern_rope_table(t, 8, 8, 10000.0, div, 1.5);
    CHECK(t[0] == 1.5f, "mscale: cos(0) %g", t[0]);
    CHECK(fabs(t[(5 * 4 + 3) * 2] - 1.5 * cos(5 * pow(10000.0, -0.75) / 8)) < 1e-6, "longrope pos 5 i 3: %g",
          t[(5 * 4 + 3) * 2]);
}

/* rope of the sequence's T tokens (qkv rows row0..) at positions n_past..;
 * the cache holds kv_base + ctx rows, the table ctx positions. */
static void check_rope(vkr_ctx *ctx, const rope_case *c, uint64_t seed) {
    test_rng r = {seed};
    const placement *pl = &c->at;
    uint32_t d = c->head_dim, heads = c->n_heads + 2 * c->n_kv_heads, kvw = c->n_kv_heads * d, half = d / 2;
    uint32_t max_pos = c->ctx, rows = pl->row0 + c->n_tokens, kvrows = pl->kv_base + c->ctx;
    size_t nx = (size_t)rows * heads * d, nq = (size_t)rows * c->n_heads * d, nkv = (size_t)kvrows * kvw;
    float *x = randv(&r, nx, 1.0f, 0), *table = malloc((size_t)max_pos * d * sizeof *table);
    float *div = malloc(half * sizeof *div);
    for (uint32_t i = 0; i < half; i++) div[i] = 1.0f + 40.0f * i / half;
    kern_rope_table(table, max_pos, d, 10000.0, c->longrope ? div : NULL, c->longrope ? 1.19 : 1.0);

    /* References: zero wherever the step must not write. */
    float *rq = calloc(nq, 4), *rk = calloc(nkv, 4), *rv = calloc(nkv, 4);
    float *gq = malloc(nq * 4), *gk = malloc(nkv * 4), *gv = malloc(nkv * 4);
    double *tmp = malloc(d * sizeof *tmp);
    for (uint32_t t = 0; t < c->n_tokens; t++) {
        uint32_t pos = c->n_past + t, row = pl->row0 + t;
        size_t kvr = (size_t)(pl->kv_base + pos) * kvw;
        for (uint32_t u = 0; u < heads; u++) {
            const float *src = x + ((size_t)row * heads + u) * d;
            if (u < c->n_heads + c->n_kv_heads) ref_rotate(src, table, pos, d, tmp);
            else
                for (uint32_t i = 0; i < d; i++) tmp[i] = src[i];
            float *dst = u < c->n_heads                  ? rq + ((size_t)row * c->n_heads + u) * d
                       : u < c->n_heads + c->n_kv_heads ? rk + kvr + (u - c->n_heads) * d
                                                         : rv + kvr + (u - c->n_heads - c->n_kv_heads) * d;
            for (uint32_t i = 0; i < d; i++) dst[i] = (float)tmp[i];
        }
    }

    vkr_buffer *bx = vkt_raw(ctx, "qkv", x, nx * 4), *bt = vkt_raw(ctx, "cos_sin", table, (uint64_t)max_pos * d * 4);
    vkr_buffer *bp = params_buffer(ctx, c->n_past, c->n_tokens, pl), *bq = vkt_raw(ctx, "q", NULL, nq * 4);
    vkr_buffer *bk = vkt_f16(ctx, "k_cache", NULL, kvrows, kvw), *bv = vkt_f16(ctx, "v_cache", NULL, kvrows, kvw);
    vkr_cmd *cmd = vkr_cmd_create(ctx, "rope");
    int setup = bx && bt && bp && bq && bk && bv && cmd;
    CHECK(setup, "setup: %s", vkr_ctx_error(ctx));
    if (setup) {
        vkr_cmd_begin(cmd);
        kern_rope(cmd, &(kern_rope_args){.qkv = bx, .cos_sin = bt, .params = bp, .q = bq, .k_cache = bk,
                                          .v_cache = bv, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads,
                                          .head_dim = d, .n_tokens = c->n_tokens, .max_pos = max_pos,
                                          .ctx = kvrows, .row0 = pl->row0, .seq = pl->seq});
        int ok = vkr_cmd_end(cmd) == 0;
        double t0 = util_now_ms();
        ok = ok && vkr_cmd_run(cmd) == 0;
        double ms = util_now_ms() - t0;
        ok = ok && vkr_buffer_read(ctx, bq, 0, gq, nq * 4) == 0 && vkt_read_f16(ctx, bk, gk, kvrows, kvw) == 0 &&
             vkt_read_f16(ctx, bv, gv, kvrows, kvw) == 0;
        CHECK(ok, "run: %s", vkr_ctx_error(ctx));
        double eq = ok ? test_nmse(gq, rq, nq) : INFINITY;
        double ek = ok ? test_nmse(gk, rk, nkv) : INFINITY, ev = ok ? test_nmse(gv, rv, nkv) : INFINITY;
        /* Rows outside the step: exactly zero (nothing written there). */
        size_t stray = 0, first = pl->kv_base + c->n_past;
        for (size_t i = 0; ok && i < nkv; i++) {
            size_t row = i / kvw;
            if ((row < first || row >= first + c->n_tokens) && (gk[i] != 0 || gv[i] != 0)) stray++;
        }
        for (size_t i = 0; ok && i < (size_t)pl->row0 * c->n_heads * d; i++) stray += gq[i] != 0;
        CHECK(eq <= ROPE_Q_BOUND, "rope q (H %u D %u T %u): nmse %.3g > %.0e", c->n_heads, d, c->n_tokens, eq,
              ROPE_Q_BOUND);
        CHECK(ek <= F16_BOUND && ev <= F16_BOUND, "rope k/v cache: nmse %.3g / %.3g > %.0e", ek, ev, F16_BOUND);
        CHECK(stray == 0, "rope wrote %zu values outside cache rows %zu..%zu and q rows %u..", stray, first,
              first + c->n_tokens - 1, pl->row0);
        printf("rope H %2u/%2u D %3u T %3u n_past %4u%s%s: nmse q %.2e k %.2e v %.2e %7.2f ms\n", c->n_heads,
               c->n_kv_heads, d, c->n_tokens, c->n_past, c->longrope ? " longrope" : "         ",
               pl->row0 || pl->seq || pl->kv_base ? " batched" : "        ", eq, ek, ev, ms);
    }
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bv);
    vkr_buffer_destroy(ctx, bk);
    vkr_buffer_destroy(ctx, bq);
    vkr_buffer_destroy(ctx, bp);
    vkr_buffer_destroy(ctx, bt);
    vkr_buffer_destroy(ctx, bx);
    free(x), free(table), free(div), free(rq), free(rk), free(rv), free(gq), free(gk), free(gv), free(tmp);
}

/* ---- a recorded decode step re-submitted at growing positions --------- */

/* rope + attention recorded once for one token; each step only rewrites the
 * token's qkv and n_past in the params buffer. The reference keeps its own
 * fp16 cache: n0 random rows, then one rotated row per step. */
static void check_decode_loop(vkr_ctx *ctx, uint32_t window, uint32_t n_split, uint64_t seed) {
    const uint32_t nh = 4, nkv = 2, d = 64, cap = 256, n0 = 150, steps = 8;
    const uint32_t heads = nh + 2 * nkv, kvw = nkv * d, hd = nh * d;
    test_rng r = {seed};
    float *k = randv(&r, (size_t)cap * kvw, 1.0f, 1), *v = randv(&r, (size_t)cap * kvw, 1.0f, 1);
    float *table = malloc((size_t)cap * d * sizeof *table), *q = malloc(hd * 4);
    float *ref = malloc(hd * 4), *got = malloc(hd * 4);
    double *tmp = malloc(d * sizeof *tmp);
    kern_rope_table(table, cap, d, 10000.0, NULL, 1.0);
    /* Rows >= n0 are garbage until a step writes them. */
    vkr_buffer *bk = vkt_f16(ctx, "k_cache", k, cap, kvw), *bv = vkt_f16(ctx, "v_cache", v, cap, kvw);
    vkr_buffer *bt = vkt_raw(ctx, "cos_sin", table, (uint64_t)cap * d * 4), *bp = params_buffer(ctx, n0, 1, &(placement){0});
    vkr_buffer *bx = vkt_raw(ctx, "qkv", NULL, (uint64_t)heads * d * 4), *bq = vkt_raw(ctx, "q", NULL, hd * 4);
    vkr_buffer *bo = vkt_f16(ctx, "out", NULL, 1, hd);
    uint64_t sbytes = kern_attention_scratch_bytes(nh, d, 1, n_split);
    vkr_buffer *bs = sbytes ? vkr_buffer_create(ctx, "scratch", sbytes, VKR_BUF_DEVICE) : NULL;
    vkr_cmd *cmd = vkr_cmd_create(ctx, "decode");
    int ok = bk && bv && bt && bp && bx && bq && bo && (bs || !sbytes) && cmd;
    CHECK(ok, "setup: %s", vkr_ctx_error(ctx));
    if (ok) {
        vkr_cmd_begin(cmd);
        kern_rope(cmd, &(kern_rope_args){.qkv = bx, .cos_sin = bt, .params = bp, .q = bq, .k_cache = bk,
                                          .v_cache = bv, .n_heads = nh, .n_kv_heads = nkv, .head_dim = d,
                                          .n_tokens = 1, .max_pos = cap, .ctx = cap});
        kern_attention(cmd, &(kern_attention_args){.q = bq, .k_cache = bk, .v_cache = bv, .params = bp,
                                                    .scratch = bs, .out = bo, .n_heads = nh, .n_kv_heads = nkv,
                                                    .head_dim = d, .n_tokens = 1, .window = window,
                                                    .n_split = n_split});
        ok = vkr_cmd_end(cmd) == 0;
        CHECK(ok, "record: %s", vkr_ctx_error(ctx));
    }
    double worst = 0;
    for (uint32_t s = 0; ok && s < steps; s++) {
        uint32_t pos = n0 + s;
        float *x = randv(&r, (size_t)heads * d, 1.0f, 0);
        for (uint32_t u = 0; u < heads; u++) {
            const float *src = x + (size_t)u * d;
            if (u < nh + nkv) ref_rotate(src, table, pos, d, tmp);
            else
                for (uint32_t i = 0; i < d; i++) tmp[i] = src[i];
            float *dst = u < nh ? q + u * d : u < nh + nkv ? k + (size_t)pos * kvw + (u - nh) * d
                                                             : v + (size_t)pos * kvw + (u - nh - nkv) * d;
            for (uint32_t i = 0; i < d; i++) dst[i] = (float)tmp[i];
        }
        vkt_round_f16(k + (size_t)pos * kvw, kvw);
        vkt_round_f16(v + (size_t)pos * kvw, kvw);
        ((struct step_params *)vkr_buffer_map(bp))->n_past = pos;
        ok = vkr_buffer_write(ctx, bx, 0, x, (uint64_t)heads * d * 4) == 0 && vkr_cmd_run(cmd) == 0 &&
             vkt_read_f16(ctx, bo, got, 1, hd) == 0;
        free(x);
        CHECK(ok, "step %u: %s", s, vkr_ctx_error(ctx));
        attn_case c = {.n_heads = nh, .n_kv_heads = nkv, .head_dim = d, .n_tokens = 1, .n_past = pos, .ctx = cap,
                       .window = window};
        ref_case(&c, q, k, v, ref);
        double e = ok ? test_nmse(got, ref, hd) : INFINITY;
        if (e > worst) worst = e;
    }
    CHECK(worst <= F16_BOUND, "decode loop window %u split %u: worst nmse %.3g > %.0e", window, n_split, worst,
          F16_BOUND);
    printf("decode loop: %u re-submitted steps from n_past %u, window %u, split %u: worst nmse %.2e\n", steps, n0,
           window, n_split, worst);
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bs);
    vkr_buffer_destroy(ctx, bo);
    vkr_buffer_destroy(ctx, bq);
    vkr_buffer_destroy(ctx, bx);
    vkr_buffer_destroy(ctx, bp);
    vkr_buffer_destroy(ctx, bt);
    vkr_buffer_destroy(ctx, bv);
    vkr_buffer_destroy(ctx, bk);
    free(k), free(v), free(table), free(q), free(ref), free(got), free(tmp);
}

/* ---- bad arguments fail the recording with a message ------------------ */

static void expect_error(vkr_ctx *ctx, vkr_cmd *cmd, const char *want) {
    int rc = vkr_cmd_end(cmd);
    CHECK(rc == -1 && strstr(vkr_ctx_error(ctx), want), "expected an error about '%s', got rc %d: %s", want, rc,
          vkr_ctx_error(ctx));
}

static void check_errors(vkr_ctx *ctx) {
    vkr_buffer *b = vkr_buffer_create(ctx, "small", 256, VKR_BUF_DEVICE);
    vkr_buffer *bp = params_buffer(ctx, 0, 1, &(placement){0});
    vkr_cmd *cmd = vkr_cmd_create(ctx, "errors");
    CHECK(b && bp && cmd, "setup: %s", vkr_ctx_error(ctx));
    if (!b || !bp || !cmd) goto done;
    kern_attention_args a = {.q = b, .k_cache = b, .v_cache = b, .params = bp, .out = b, .n_heads = 1,
                            .n_kv_heads = 1, .head_dim = 12, .n_tokens = 1, .n_split = 1};
    vkr_cmd_begin(cmd);
    kern_attention(cmd, &a);
    expect_error(ctx, cmd, "head_dim 12");
    a.head_dim = 8;
    a.n_split = 4;
    vkr_cmd_begin(cmd);
    kern_attention(cmd, &a);
    expect_error(ctx, cmd, "scratch buffer missing");
    a.n_split = 1;
    a.n_tokens = 100;
    vkr_cmd_begin(cmd);
    kern_attention(cmd, &a);
    expect_error(ctx, cmd, "q buffer small has 256 bytes, needs 3200");
    a.n_tokens = 1;
    vkr_cmd_begin(cmd);
    kern_attention_tuned(cmd, &a, &(kern_attn_tune){.lanes_per_key = 256, .key_slots = 1, .rows = 1});
    expect_error(ctx, cmd, "L <= the subgroup size");
    vkr_cmd_begin(cmd);
    kern_rope(cmd, &(kern_rope_args){.qkv = b, .cos_sin = b, .params = bp, .q = b, .k_cache = b, .v_cache = b,
                                      .n_heads = 1, .n_kv_heads = 1, .head_dim = 8, .n_tokens = 1, .max_pos = 8,
                                      .ctx = 100});
    expect_error(ctx, cmd, "k_cache buffer small has 256 bytes, needs 1600");
done:
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bp);
    vkr_buffer_destroy(ctx, b);
}

int main(void) {
    vkr_ctx *ctx = vkt_ctx();
    /* GPU layouts, run on lavapipe's subgroups (a layout planned for more
     * key slots than a subgroup holds runs with fewer). */
    static const kern_attn_tune l4 = {.lanes_per_key = 4, .key_slots = 2, .rows = 4};
    static const kern_attn_tune l2 = {.lanes_per_key = 2, .key_slots = 4, .rows = 1};
    static const kern_attn_tune l8 = {.lanes_per_key = 8, .key_slots = 1, .rows = 3};
    static const kern_attn_tune keys = {.lanes_per_key = 1, .key_slots = 8, .rows = 1};
    static const kern_attn_tune rows = {.lanes_per_key = 1, .key_slots = 1, .rows = 8};
    /* Several keys per step: odd block sizes against windows, splits and the
     * ends of the key range. */
    static const kern_attn_tune rows3 = {.lanes_per_key = 1, .key_slots = 1, .rows = 8, .key_block = 3};
    static const kern_attn_tune keys4 = {.lanes_per_key = 1, .key_slots = 8, .rows = 1, .key_block = 4};
    static const kern_attn_tune l4b2 = {.lanes_per_key = 4, .key_slots = 2, .rows = 4, .key_block = 2};

    check_rope_table();
    const rope_case ropes[] = {
        {32, 32, 96, 1, 0, 4096, 0},    {32, 32, 96, 7, 4000, 4096, 1}, {32, 32, 96, 512, 0, 512, 1},
        {40, 10, 128, 7, 33, 64, 1},   {8, 8, 64, 3, 5, 16, 0},
        /* A second sequence of a batch: rows 5.., step_params[2], cache rows 300... */
        {32, 32, 96, 7, 40, 64, 1, {.row0 = 5, .seq = 2, .kv_base = 300}},
    };
    for (size_t i = 0; i < sizeof ropes / sizeof ropes[0]; i++) check_rope(ctx, &ropes[i], 100 + i);

    const attn_case cases[] = {
        /* Phi-3-mini: contexts 1, 7, 512 (prefill) and 4096 (decode). */
        {32, 32, 96, 1, 0, 16, 0, 1, 1.0f, NULL},
        {32, 32, 96, 7, 0, 64, 0, 1, 1.0f, NULL},
        {32, 32, 96, 512, 0, 512, 0, 1, 1.0f, NULL},
        {32, 32, 96, 1, 4095, 4096, 0, 1, 1.0f, NULL},
        {32, 32, 96, 1, 4095, 4096, 0, 7, 1.0f, NULL},
        {32, 32, 96, 1, 4095, 4096, 0, 16, 1.0f, &l4},
        /* n_past > 0 with several new tokens; splits over many rows. */
        {32, 32, 96, 7, 300, 512, 0, 1, 1.0f, NULL},
        {32, 32, 96, 7, 300, 512, 0, 3, 1.0f, &keys},
        {32, 32, 96, 7, 300, 512, 0, 5, 1.0f, &l8},
        /* head_dim 64 and 128; Phi-3-medium's 40 heads over 10 kv heads. */
        {32, 32, 64, 7, 100, 128, 0, 1, 1.0f, NULL},
        {32, 32, 64, 7, 100, 128, 0, 1, 1.0f, &l2},
        {40, 10, 128, 7, 33, 64, 0, 1, 1.0f, NULL},
        {40, 10, 128, 1, 1000, 1024, 0, 5, 1.0f, &l4},
        {40, 10, 128, 1, 1000, 1024, 0, 5, 1.0f, &rows},
        {40, 10, 128, 33, 70, 128, 0, 3, 1.0f, &l8},
        /* Sliding windows shorter than the context. */
        {32, 32, 96, 7, 200, 256, 64, 1, 1.0f, NULL},
        {32, 32, 96, 1, 2047, 2048, 512, 4, 1.0f, NULL},
        {32, 32, 96, 100, 0, 128, 16, 1, 1.0f, &l4},
        {32, 32, 96, 37, 0, 64, 0, 1, 1.0f, &rows3},
        {40, 10, 128, 33, 70, 128, 16, 3, 1.0f, &rows3},
        {32, 32, 96, 1, 1000, 1024, 0, 5, 1.0f, &keys4},
        {32, 32, 96, 7, 200, 256, 50, 2, 1.0f, &keys4},
        {40, 10, 128, 9, 90, 128, 0, 1, 1.0f, &l4b2},
        {32, 32, 96, 21, 300, 512, 64, 2, 1.0f, &l4b2},
        {40, 10, 128, 9, 90, 128, 50, 2, 1.0f, &l2},
        /* Peaked softmax (scores ~ +-100): needs the max subtraction. */
        {32, 32, 96, 7, 50, 64, 0, 1, 30.0f, NULL},
        {32, 32, 96, 1, 500, 512, 0, 3, 30.0f, &l4},
        /* A later sequence of a batch: q/out rows 5.., step_params[2], cache rows 300... */
        {32, 32, 96, 7, 40, 64, 0, 1, 1.0f, NULL, {.row0 = 5, .seq = 2, .kv_base = 300}},
        {40, 10, 128, 1, 200, 256, 0, 3, 1.0f, &l2, {.row0 = 3, .seq = 1, .kv_base = 77}},
        {32, 32, 96, 9, 100, 128, 32, 2, 1.0f, &keys, {.row0 = 1, .seq = 3, .kv_base = 64}},
    };
    /* Every case with the CPU profile (texel loads); every case also with
     * storage-buffer loads and NVIDIA's layout (forced layouts keep theirs),
     * and the other GPU profiles' layouts on the default-layout cases up to
     * 64 tokens (each layout is a pipeline lavapipe compiles for seconds). */
    static const char *const gpus[] = {"nvidia", "amd", "intel", "gpu"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkr_ctx_use_profile(ctx, "cpu");
        check_attention(ctx, &cases[i], 1 + i);
        for (int g = 0; g < 4; g++) {
            if (g > 0 && (cases[i].tune || cases[i].n_tokens > 64)) break;
            vkr_ctx_use_profile(ctx, gpus[g]);
            check_attention(ctx, &cases[i], 1 + i);
        }
    }
    for (int g = 0; g < 2; g++) {
        vkr_ctx_use_profile(ctx, g ? "nvidia" : "cpu");
        check_decode_loop(ctx, 0, 3, 7);
        check_decode_loop(ctx, 64, 2, 8);
    }
    vkr_ctx_use_profile(ctx, "auto");
    check_errors(ctx);
    CHECK(vkt_ctx_done(ctx) == 0, "validation messages");
    return test_finish();
}
