/* Vulkan test helpers: a context on the test device, buffers filled from host arrays. */
#include "vktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/f16.h"
#include "formats/quant.h"
#include "kernels/kernels.h"

vkr_ctx *vkt_ctx(void) {
    char err[1024];
    vkr_ctx_opts o = {.validate = 1, .cache_dir = "", .quiet = 1};
    vkr_ctx *ctx = vkr_ctx_create(&o, err, sizeof err);
    if (!ctx) {
        if (strstr(err, "no Vulkan")) test_skip(err);
        fprintf(stderr, "vkr_ctx_create: %s\n", err);
        exit(1);
    }
    return ctx;
}

int vkt_ctx_done(vkr_ctx *ctx) {
    int n = vkr_ctx_validation_messages(ctx);
    vkr_ctx_destroy(ctx);
    return n;
}

void vkt_round_f16(float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) x[i] = fmt_f16_to_f32(fmt_f32_to_f16(x[i]));
}

static uint16_t *to_f16_padded(const float *x, uint32_t rows, uint32_t cols) {
    uint32_t ld = kern_ld(cols);
    uint16_t *h = calloc((size_t)rows * ld, 2);
    if (!h) return NULL;
    for (uint64_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) h[r * ld + c] = fmt_f32_to_f16(x[r * cols + c]);
    return h;
}

static vkr_buffer *upload(vkr_ctx *ctx, const char *name, const void *data, uint64_t bytes, vkr_buffer_kind kind) {
    vkr_buffer *b = vkr_buffer_create(ctx, name, bytes, kind);
    if (!b) {
        fprintf(stderr, "vkr_buffer_create %s: %s\n", name, vkr_ctx_error(ctx));
        return NULL;
    }
    if (data && vkr_buffer_write(ctx, b, 0, data, bytes)) {
        fprintf(stderr, "vkr_buffer_write %s: %s\n", name, vkr_ctx_error(ctx));
        vkr_buffer_destroy(ctx, b);
        return NULL;
    }
    return b;
}

vkr_buffer *vkt_weight(vkr_ctx *ctx, const char *name, const float *w, uint32_t rows, uint32_t cols) {
    uint16_t *h = to_f16_padded(w, rows, cols);
    vkr_buffer *b = h ? upload(ctx, name, h, (uint64_t)rows * kern_ld(cols) * 2, VKR_BUF_WEIGHT) : NULL;
    free(h);
    return b;
}

vkr_buffer *vkt_weight_q(vkr_ctx *ctx, const char *name, uint32_t dtype, float *w, uint32_t rows, uint32_t cols) {
    if (dtype == FMT_GGML_F16) {
        vkt_round_f16(w, (uint64_t)rows * cols);
        return vkt_weight(ctx, name, w, rows, cols);
    }
    uint64_t in = fmt_quant_row_bytes(dtype, cols), out = kern_weight_row_bytes(dtype, cols);
    uint8_t *blocks = malloc((size_t)(rows * in)), *dev = malloc((size_t)(rows * out));
    vkr_buffer *b = NULL;
    int ok = blocks && dev && in && out;
    for (uint64_t r = 0; ok && r < rows; r++)
        ok = fmt_quantize_row(dtype, w + r * cols, blocks + r * in, cols) == 0 &&
             fmt_dequantize_row(dtype, blocks + r * in, w + r * cols, cols) == 0;
    ok = ok && kern_weight_pack(dtype, blocks, dev, rows, cols) == 0;
    if (ok && (b = kern_weight_create(ctx, name, dtype, rows, cols)) && vkr_buffer_write(ctx, b, 0, dev, rows * out)) {
        vkr_buffer_destroy(ctx, b);
        b = NULL;
    }
    if (!b) fprintf(stderr, "vkt_weight_q %s (%s): %s\n", name, fmt_ggml_type_name(dtype), ok ? vkr_ctx_error(ctx) : "quantize");
    free(blocks), free(dev);
    return b;
}

vkr_buffer *vkt_f16(vkr_ctx *ctx, const char *name, const float *x, uint32_t rows, uint32_t cols) {
    uint16_t *h = x ? to_f16_padded(x, rows, cols) : NULL;
    vkr_buffer *b = upload(ctx, name, h, (uint64_t)rows * kern_ld(cols) * 2, VKR_BUF_DEVICE);
    free(h);
    return b;
}

vkr_buffer *vkt_raw(vkr_ctx *ctx, const char *name, const void *data, uint64_t bytes) {
    return upload(ctx, name, data, bytes, VKR_BUF_DEVICE);
}

int vkt_read_f16(vkr_ctx *ctx, vkr_buffer *b, float *out, uint32_t rows, uint32_t cols) {
    uint32_t ld = kern_ld(cols);
    uint16_t *h = malloc((size_t)rows * ld * 2);
    if (!h) return -1;
    if (vkr_buffer_read(ctx, b, 0, h, (uint64_t)rows * ld * 2)) {
        free(h);
        return -1;
    }
    for (uint64_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) out[r * cols + c] = fmt_f16_to_f32(h[r * ld + c]);
    free(h);
    return 0;
}
