/* Weight dtypes on the device: row sizes and the repacking of ggml's file
 * blocks into the texel layouts the shaders read (kernels.h,
 * shaders/wtype.glsl). */
#include <string.h>

#include "formats/quant.h"
#include "kernels/kernels.h"

#define TEXEL 16u

static uint64_t scale_texels(uint64_t cols) { return (cols + 255) / 256; } /* 8 binary16 per texel, one per 32 values */

uint64_t kern_weight_row_bytes(uint32_t dtype, uint32_t cols) {
    uint64_t k = cols, nb = k / 256;
    switch (dtype) {
    case FMT_GGML_F16: return cols ? (uint64_t)kern_ld(cols) * 2 : 0;
    case FMT_GGML_Q8_0: return k && k % 32 == 0 ? (k / 16 + scale_texels(k)) * TEXEL : 0;
    case FMT_GGML_Q4_0: return k && k % 32 == 0 ? (k / 32 + scale_texels(k)) * TEXEL : 0;
    case FMT_GGML_Q4_K: return k && k % 256 == 0 ? 9 * nb * TEXEL : 0;
    case FMT_GGML_Q5_K: return k && k % 256 == 0 ? 11 * nb * TEXEL : 0;
    case FMT_GGML_Q6_K: return k && k % 256 == 0 ? (13 * nb + (nb + 7) / 8) * TEXEL : 0;
    default: return 0;
    }
}

/* Value v (0..31) of a 32-value group as the device's 4-bit field: byte v / 2,
 * the low nibble for even v. */
static void put_nibble(uint8_t *texel, int v, unsigned q) { texel[v / 2] |= (uint8_t)((q & 15u) << (4 * (v & 1))); }

static void pack_q8_0(const uint8_t *src, uint8_t *dst, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++, src += 34) {
        memcpy(dst + k + 2 * b, src, 2);       /* d, after the K bytes of values */
        memcpy(dst + 32 * b, src + 2, 32);
    }
}

static void pack_q4_0(const uint8_t *src, uint8_t *dst, uint32_t k) {
    for (uint32_t b = 0; b < k / 32; b++, src += 18) {
        memcpy(dst + k / 2 + 2 * b, src, 2);
        for (int j = 0; j < 16; j++) { /* q - 8 as 4-bit two's complement is q ^ 8 */
            put_nibble(dst + 16 * b, j, (src[2 + j] & 15u) ^ 8u);
            put_nibble(dst + 16 * b, j + 16, (src[2 + j] >> 4) ^ 8u);
        }
    }
}

/* Q4_K and Q5_K: header verbatim, one texel of low nibbles per sub-block,
 * (Q5_K) one word of fifth bits per sub-block. */
static void pack_k(const uint8_t *src, uint8_t *dst, uint32_t k, int five) {
    uint32_t bytes = five ? 176 : 144, texels = five ? 11 : 9;
    for (uint32_t s = 0; s < k / 256; s++, src += bytes) {
        uint8_t *o = dst + (uint64_t)s * texels * TEXEL;
        const uint8_t *qs = src + (five ? 48 : 16), *qh = src + 16;
        memcpy(o, src, 16);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++) {
                uint8_t byte = qs[32 * (j / 2) + l];
                put_nibble(o + TEXEL * (1 + j), l, j & 1 ? byte >> 4 : byte);
                if (five && (qh[l] >> j & 1)) o[9 * TEXEL + 4 * j + l / 8] |= (uint8_t)(1u << (l % 8));
            }
    }
}

static void pack_q6_k(const uint8_t *src, uint8_t *dst, uint32_t k) {
    uint32_t nb = k / 256;
    for (uint32_t s = 0; s < nb; s++, src += 210) {
        uint8_t *o = dst + (uint64_t)s * 13 * TEXEL;
        for (int v = 0; v < 256; v++) {
            int h = v / 128, r = v % 128, kk = r / 32, l = r % 32;
            const uint8_t *ql = src + 64 * h, *qh = src + 128 + 32 * h;
            unsigned lo = kk < 2 ? ql[l + 32 * kk] & 15u : ql[l + 32 * (kk - 2)] >> 4;
            unsigned hi = (qh[l] >> (2 * kk)) & 3u;
            int j = v / 32, i = v % 32;
            put_nibble(o + TEXEL * j, i, lo);
            o[8 * TEXEL + 4 * (2 * j + i / 16) + (i % 16) / 4] |= (uint8_t)(hi << (2 * (i % 4)));
        }
        memcpy(o + 12 * TEXEL, src + 192, 16);             /* the int8 scales */
        memcpy(dst + (uint64_t)nb * 13 * TEXEL + 2 * s, src + 208, 2); /* d, after all super-blocks */
    }
}

int kern_weight_pack(uint32_t dtype, const void *src, void *dst, uint32_t rows, uint32_t cols) {
    uint64_t in = dtype == FMT_GGML_F16 ? (uint64_t)cols * 2 : fmt_quant_row_bytes(dtype, cols);
    uint64_t out = kern_weight_row_bytes(dtype, cols);
    if (!in || !out) return -1;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (uint32_t r = 0; r < rows; r++, s += in, d += out) {
        memset(d, 0, (size_t)out);
        switch (dtype) {
        case FMT_GGML_F16: memcpy(d, s, (size_t)in); break;
        case FMT_GGML_Q8_0: pack_q8_0(s, d, cols); break;
        case FMT_GGML_Q4_0: pack_q4_0(s, d, cols); break;
        case FMT_GGML_Q4_K: pack_k(s, d, cols, 0); break;
        case FMT_GGML_Q5_K: pack_k(s, d, cols, 1); break;
        default: pack_q6_k(s, d, cols); break;
        }
    }
    return 0;
}

vkr_buffer *kern_weight_create(vkr_ctx *ctx, const char *name, uint32_t dtype, uint32_t rows, uint32_t cols) {
    vkr_tensor_desc t = {.dtype = dtype, .rows = rows, .cols = cols, .row_bytes = kern_weight_row_bytes(dtype, cols)};
    return vkr_tensor_create(ctx, name, &t);
}

uint32_t kern_weight_dtype(const vkr_buffer *w) {
    const vkr_tensor_desc *t = vkr_buffer_tensor(w);
    return t ? t->dtype : FMT_GGML_F16;
}
