/* bench --kernels: the matrix kernels timed alone at Phi-3-mini's shapes (see kernels.h). */
#include "bench/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "formats/f16.h"
#include "formats/gguf.h"
#include "formats/quant.h"
#include "kernels/kernels.h"
#include "kernels/tune.h"
#include "util/time.h"


/* xorshift values in [-1, 1), rounded to fp16. */
static void fill_f16(uint16_t *h, uint64_t n, uint64_t ld, uint64_t cols, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        float v = ((float)(s >> 40) / 8388608.0f - 1.0f) * scale;
        h[i] = (i % ld) < cols ? fmt_f32_to_f16(v) : 0;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The weight of one kernel timing on the host: its rows in the device layout
 * (fp16 rows of ld halves, or a block type packed by kern_weight_pack) and
 * the values the kernel should use for its first ref_rows rows (the
 * reference: fp16 widened, or the dequantized blocks). */
typedef struct bench_weight {
    void *dev;      /* the device layout, ready to upload */
    uint64_t bytes; /* of dev */
    float *ref;     /* [ref_rows, k] the values the kernel should use */
} bench_weight;

/* Fills w with random values in [-0.05, 0.05): fp16 as fill_f16, a block
 * type quantized from the same fp32 values with fmt_quantize_row. */
static int weight_make(bench_weight *w, uint32_t dtype, uint32_t n, uint32_t k, uint32_t ref_rows) {
    uint32_t ld = kern_ld(k);
    memset(w, 0, sizeof *w);
    w->ref = malloc((uint64_t)ref_rows * k * sizeof(float));
    if (!w->ref) return -1;
    if (dtype == FMT_GGML_F16) {
        w->bytes = (uint64_t)n * ld * 2;
        uint16_t *h = w->dev = malloc(w->bytes);
        if (!h) return -1;
        fill_f16(h, (uint64_t)n * ld, ld, k, 1, 0.05f);
        for (uint32_t r = 0; r < ref_rows; r++)
            for (uint32_t c = 0; c < k; c++) w->ref[(uint64_t)r * k + c] = fmt_f16_to_f32(h[(uint64_t)r * ld + c]);
        return 0;
    }
    uint64_t fb = fmt_quant_row_bytes(dtype, k);
    w->bytes = (uint64_t)n * kern_weight_row_bytes(dtype, k);
    uint8_t *file = malloc((uint64_t)n * fb);
    float *row = malloc((uint64_t)k * sizeof(float));
    uint16_t *h = malloc((uint64_t)k * 2);
    w->dev = malloc(w->bytes);
    int rc = file && row && h && w->dev ? 0 : -1;
    for (uint32_t r = 0; !rc && r < n; r++) {
        fill_f16(h, k, k, k, 1 + (uint64_t)r * 7919, 0.05f);
        for (uint32_t c = 0; c < k; c++) row[c] = fmt_f16_to_f32(h[c]);
        rc = fmt_quantize_row(dtype, row, file + (uint64_t)r * fb, k);
        if (!rc && r < ref_rows) rc = fmt_dequantize_row(dtype, file + (uint64_t)r * fb, w->ref + (uint64_t)r * k, k);
    }
    if (!rc) rc = kern_weight_pack(dtype, file, w->dev, n, k);
    free(file), free(row), free(h);
    return rc;
}

int bench_kernel_matmul(vkr_ctx *ctx, uint32_t dtype, uint32_t n, uint32_t k, uint32_t t, int reps, int samples,
                        bench_kernel_result *out, char *err, size_t errlen) {
    uint32_t ld = kern_ld(k), ref_rows = n < 64 ? n : 64;
    uint64_t xn = (uint64_t)t * ld;
    int rc = -1, host_fail = 0;
    uint16_t *x = NULL;
    float *y = NULL;
    bench_weight w = {0};
    if (dtype != FMT_GGML_F16 && !kern_weight_row_bytes(dtype, k)) {
        snprintf(err, errlen, "weights %s need K a multiple of %u values, found %u", fmt_ggml_type_name(dtype),
                 fmt_quant_block_values(dtype), k);
        return -1;
    }
    /* Device buffers first: a shape the device cannot hold fails here, before
     * gigabytes of host memory are filled. */
    vkr_buffer *bw = dtype == FMT_GGML_F16 ? vkr_buffer_create(ctx, "bench.w", (uint64_t)n * ld * 2, VKR_BUF_WEIGHT)
                                           : kern_weight_create(ctx, "bench.w", dtype, n, k);
    vkr_buffer *bx = bw ? vkr_buffer_create(ctx, "bench.x", xn * 2, VKR_BUF_DEVICE) : NULL;
    vkr_buffer *by = bx ? vkr_buffer_create(ctx, "bench.y", (uint64_t)t * n * 4, VKR_BUF_DEVICE) : NULL;
    vkr_cmd *cmd = by ? vkr_cmd_create(ctx, "bench.matmul") : NULL;
    if (!cmd) goto done;
    x = malloc(xn * 2), y = malloc((uint64_t)t * n * 4);
    if (!x || !y || weight_make(&w, dtype, n, k, ref_rows)) {
        host_fail = 1;
        snprintf(err, errlen, "out of host memory for a %ux%u %s matrix by %u tokens (%.0f MiB)", n, k,
                 fmt_ggml_type_name(dtype), t, (w.bytes + xn * 2) / 1048576.0 + (double)t * n * 4 / (1 << 20));
        goto done;
    }
    fill_f16(x, xn, ld, k, 2, 1.0f);
    if (vkr_buffer_write(ctx, bw, 0, w.dev, w.bytes) || vkr_buffer_write(ctx, bx, 0, x, xn * 2)) goto done;
    kern_matmul_args a = {.weight = bw, .x = bx, .out = by, .n_out = n, .n_in = k, .n_tokens = t};
    if (vkr_cmd_begin(cmd)) goto done;
    for (int i = 0; i < reps; i++) kern_matmul(cmd, &a);
    /* Warm-up: untimed runs of the whole batch for at least half a second
     * (pipeline creation, page faults, driver threads and clocks: the first
     * second of a fresh process reads slow, bench/RESULTS.md, method M5). */
    if (vkr_cmd_end(cmd)) goto done;
    for (double w0 = util_now_s(); util_now_s() - w0 < 0.5;)
        if (vkr_cmd_run(cmd)) goto done;
    double ms[BENCH_KERNEL_MAX_SAMPLES], taken[BENCH_KERNEL_MAX_SAMPLES];
    if (samples < 1) samples = 1;
    if (samples > BENCH_KERNEL_MAX_SAMPLES) samples = BENCH_KERNEL_MAX_SAMPLES;
    for (int i = 0; i < samples; i++) {
        double t0 = util_now_s();
        if (vkr_cmd_run(cmd)) goto done;
        ms[i] = taken[i] = (util_now_s() - t0) * 1e3 / reps;
    }
    qsort(ms, (size_t)samples, sizeof ms[0], cmp_double);
    double med = samples % 2 ? ms[samples / 2] : 0.5 * (ms[samples / 2 - 1] + ms[samples / 2]);
    if (vkr_buffer_read(ctx, by, 0, y, (uint64_t)t * n * 4)) goto done;

    /* Check 64 rows of every token against a double-precision reference on
     * the values the weight holds (a block type's dequantized values). */
    double num = 0, den = 0;
    for (uint32_t ti = 0; ti < t; ti++)
        for (uint32_t r = 0; r < ref_rows; r++) {
            double s = 0;
            for (uint32_t c = 0; c < k; c++)
                s += (double)w.ref[(uint64_t)r * k + c] * fmt_f16_to_f32(x[(uint64_t)ti * ld + c]);
            double d = y[(uint64_t)ti * n + r] - s;
            num += d * d, den += s * s;
        }
    memset(out, 0, sizeof *out);
    kern_matmul_args shape = {.n_out = n, .n_in = k, .n_tokens = t};
    int mv = kern_matmul_tune_for(vkr_ctx_profile(ctx), vkr_ctx_device(ctx), &shape).kernel == KERN_MATMUL_MATVEC;
    /* fp16 rows keep the names of earlier versions, so bench-compare pairs them */
    snprintf(out->name, sizeof out->name, "%s%s%s %ux%u t=%u", mv ? "matvec" : "matmul",
             dtype == FMT_GGML_F16 ? "" : " ", dtype == FMT_GGML_F16 ? "" : fmt_ggml_type_name(dtype), n, k, t);
    out->dtype = dtype, out->n = n, out->k = k, out->t = t, out->reps = reps, out->samples = samples;
    out->ms = med, out->ms_min = ms[0], out->ms_max = ms[samples - 1];
    double bytes = (double)vkr_buffer_size(bw); /* every weight byte the op reads */
    out->gbps = bytes / med / 1e6;
    out->bytes_per_weight = bytes / ((double)n * k);
    out->gbps_max = bytes / ms[0] / 1e6, out->gbps_min = bytes / ms[samples - 1] / 1e6;
    out->gflops = 2.0 * n * k * t / med / 1e6;
    out->check_nmse = den > 0 ? num / den : num;
    memcpy(out->samples_ms, taken, (size_t)samples * sizeof taken[0]);
    rc = 0;
done:
    if (rc && !host_fail) vkr_ctx_error_to(ctx, err, errlen);
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, bw), vkr_buffer_destroy(ctx, bx), vkr_buffer_destroy(ctx, by);
    free(w.dev), free(w.ref), free(x), free(y);
    return rc;
}

/* ---- output ---- */

/* What every row of one run shares. */
typedef struct kernel_ctx {
    const vkr_device_info *d;
    const char *profile;
    char driver_version[32], vulkan_api[16], date[32];
    bench_host host;
    bench_clocks clocks;
} kernel_ctx;

static int kernel_field(const void *ctx, const void *row, int i, bench_field *f) {
    const kernel_ctx *k = ctx;
    const bench_kernel_result *r = row;
    if (i < BENCH_CONTEXT_FIELDS) {
        bench_context c = {.kind = "kernel", .version = PHI3VK_VERSION, .commit = PHI3VK_COMMIT, .date = k->date,
                           .host = &k->host, .dev = k->d, .driver_version = k->driver_version,
                           .vulkan_api = k->vulkan_api, .profile = k->profile, .clocks = &k->clocks};
        bench_context_field(&c, i, f);
        return 1;
    }
    switch (i) {
    case 27: *f = bench_str("kernel", r->name); break;
    case 28: *f = bench_int("n", r->n); break;
    case 29: *f = bench_int("k", r->k); break;
    case 30: *f = bench_int("t", r->t); break;
    case 31: *f = bench_int("reps", r->reps); break;
    case 32: *f = bench_int("samples", r->samples); break;
    case 33: *f = bench_num("ms", r->ms); break;
    case 34: *f = bench_num("ms_min", r->ms_min); break;
    case 35: *f = bench_num("ms_max", r->ms_max); break;
    case 36: *f = (bench_field){.name = "samples_ms", .kind = BENCH_F_NUMS, .a = r->samples_ms, .n = r->samples}; break;
    case 37: *f = bench_num("gbps", r->gbps); break;
    case 38: *f = bench_num("gbps_min", r->gbps_min); break;
    case 39: *f = bench_num("gbps_max", r->gbps_max); break;
    case 40: *f = bench_num("gflops", r->gflops); break;
    case 41: *f = bench_str("check", r->check_nmse <= BENCH_KERNEL_NMSE ? "pass" : "fail"); break;
    case 42: *f = bench_num("check_nmse", r->check_nmse); break;
    case 43: *f = bench_num("check_bound", BENCH_KERNEL_NMSE); break;
    case 44: *f = bench_str("weights", fmt_ggml_type_name(r->dtype)); break;
    case 45: *f = bench_num("bytes_per_weight", r->bytes_per_weight); break;
    default: return 0;
    }
    return 1;
}

static char *kernels_md(const bench_kernel_result *r, int n, const kernel_ctx *k) {
    bench_sb b = {0};
    const bench_host *h = &k->host;
    bench_sb_printf(&b, "device: %s (%s %s, %s, profile %s); host: %s, %d cores, %s; phi3vk %s (%s), %s; median of "
                        "%d timings; check: nmse <= %.0e against a C reference\n\n",
                    k->d->name, k->d->driver_name, k->driver_version, k->d->driver_info, k->profile, h->cpu, h->cores,
                    h->os, PHI3VK_VERSION, PHI3VK_COMMIT, k->date, n ? r[0].samples : 0, BENCH_KERNEL_NMSE);
    bench_sb_printf(&b, "| kernel | ms | GB/s (weights) | GB/s slowest-fastest | GFLOP/s | check nmse |\n"
                        "|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++)
        bench_sb_printf(&b, "| %s | %.3f | %.2f | %.2f-%.2f | %.2f | %.1e%s |\n", r[i].name, r[i].ms, r[i].gbps,
                        r[i].gbps_min, r[i].gbps_max, r[i].gflops, r[i].check_nmse,
                        r[i].check_nmse <= BENCH_KERNEL_NMSE ? "" : " **FAIL**");
    bench_sb_printf(&b, "\nschema %d\n", BENCH_SCHEMA_VERSION);
    return bench_sb_done(&b);
}

char *bench_kernels_format(const bench_kernel_result *r, int n, vkr_ctx *ctx, bench_format fmt) {
    kernel_ctx k = {.d = vkr_ctx_device(ctx), .profile = vkr_ctx_profile(ctx)->name};
    vkr_driver_version_str(k.d, k.driver_version, sizeof k.driver_version);
    vkr_api_version_str(k.d, k.vulkan_api, sizeof k.vulkan_api);
    bench_utc_now(k.date, sizeof k.date);
    bench_host_query(&k.host);
    bench_clocks_query(k.d, &k.clocks);
    if (fmt == BENCH_FMT_MD) return kernels_md(r, n, &k);
    return bench_rows_format(fmt, kernel_field, &k, r, sizeof *r, n);
}
