/* ggml's block-quantized tensor types as GGUF files store them: the block
 * layouts (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), their sizes, the bytes of a row,
 * and plain-C quantize / dequantize routines.
 *
 * Facts of the format (ggml-common.h and ggml-quants.c of llama.cpp; no code
 * taken). Every multi-byte field is little-endian; ggml_half is an IEEE
 * binary16. A row of C values is C / QK blocks, written one after another:
 *
 *   Q8_0 (32 values, 34 bytes):  d (half), qs[32] int8;           x = d * q
 *   Q4_0 (32 values, 18 bytes):  d (half), qs[16]: byte j holds value j in
 *                                its low nibble and value j + 16 in its high
 *                                nibble;                          x = d * (q - 8)
 *   Q4_K (256 values, 144 bytes): d, dmin (halves), scales[12], qs[128].
 *       8 sub-blocks of 32 values with a 6-bit scale sc and min m each,
 *       packed in scales[12]: for j < 4, sc = scales[j] & 63 and m =
 *       scales[j + 4] & 63; for j >= 4, sc = (scales[j + 4] & 15) |
 *       ((scales[j - 4] >> 6) << 4) and m = (scales[j + 4] >> 4) |
 *       ((scales[j] >> 6) << 4). qs: 32 bytes per pair of sub-blocks (2i,
 *       2i + 1), byte l holding value l of sub-block 2i in its low nibble and
 *       value l of sub-block 2i + 1 in its high nibble.
 *                                                 x = d * sc * q - dmin * m
 *   Q5_K (256 values, 176 bytes): d, dmin, scales[12] as Q4_K, qh[32],
 *       qs[128] as Q4_K's; the fifth bit of value l of sub-block j is bit j
 *       of qh[l].                      x = d * sc * (q + 16 * h) - dmin * m
 *   Q6_K (256 values, 210 bytes): ql[128], qh[64], scales[16] int8, d (half).
 *       Two halves of 128 values (ql + 64 h, qh + 32 h, scales + 8 h); value
 *       l + 32 k (l < 32, k < 4) of a half has its low 4 bits in the low
 *       (k = 0, 1) or high (k = 2, 3) nibble of ql[l + 32 (k & 1)], its high
 *       2 bits at bit 2 k of qh[l], and the scale scales[l / 16 + 2 k].
 *                                                  x = d * sc * (q - 32)
 *
 * The quantizers are this project's own (least squares over a few candidate
 * scales for the K types, as the reference does in spirit); any valid block
 * is a correct file, and Q8_0 / Q4_0 follow the reference's arithmetic
 * exactly (Q8_0: d = max|x| / 127, q = round(x / d); Q4_0: d = m / -8 with m
 * the value of largest magnitude, q = min(15, trunc(x / d + 8.5))). */
#ifndef PHI3VK_FORMATS_QUANT_H
#define PHI3VK_FORMATS_QUANT_H
#include <stddef.h>
#include <stdint.h>

#include "formats/gguf.h"

#define FMT_QK_32 32   /* values per Q8_0 / Q4_0 block */
#define FMT_QK_K 256   /* values per K-quant super-block */

typedef struct fmt_block_q8_0 {
    uint16_t d;        /* scale (binary16) */
    int8_t qs[32];
} fmt_block_q8_0;

typedef struct fmt_block_q4_0 {
    uint16_t d;        /* scale (binary16) */
    uint8_t qs[16];    /* value j: low nibble of qs[j]; value j + 16: high nibble */
} fmt_block_q4_0;

typedef struct fmt_block_q4_k {
    uint16_t d;        /* scale of the sub-block scales (binary16) */
    uint16_t dmin;     /* scale of the sub-block mins (binary16) */
    uint8_t scales[12];/* 8 6-bit scales and 8 6-bit mins (see above) */
    uint8_t qs[128];   /* 4-bit values, 32 bytes per sub-block pair */
} fmt_block_q4_k;

typedef struct fmt_block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];    /* fifth bits: bit j of qh[l] for value l of sub-block j */
    uint8_t qs[128];   /* low 4 bits, as Q4_K */
} fmt_block_q5_k;

typedef struct fmt_block_q6_k {
    uint8_t ql[128];   /* low 4 bits */
    uint8_t qh[64];    /* high 2 bits */
    int8_t scales[16]; /* one per 16 values */
    uint16_t d;        /* scale of the scales (binary16) */
} fmt_block_q6_k;

_Static_assert(sizeof(fmt_block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(fmt_block_q4_0) == 18, "Q4_0 block");
_Static_assert(sizeof(fmt_block_q4_k) == 144, "Q4_K block");
_Static_assert(sizeof(fmt_block_q5_k) == 176, "Q5_K block");
_Static_assert(sizeof(fmt_block_q6_k) == 210, "Q6_K block");

/* 1 for the block types above (FMT_GGML_Q8_0, _Q4_0, _Q4_K, _Q5_K, _Q6_K). */
int fmt_quant_supported(uint32_t type);
/* Values per block: 32 or 256 for those types, 1 for F32, F16 and BF16, 0
 * for any other id. */
uint32_t fmt_quant_block_values(uint32_t type);
/* Bytes per block (34, 18, 144, 176, 210; 4 or 2 for the float types); 0
 * for other ids. */
uint32_t fmt_quant_block_bytes(uint32_t type);
/* Bytes of one row of cols values: cols / block values * block bytes; 0
 * when cols is not a whole number of blocks or the type is unknown. */
uint64_t fmt_quant_row_bytes(uint32_t type, uint64_t cols);
/* Parses "f16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k" (any case) into a
 * FMT_GGML_* id. Returns 0, or -1 for anything else. */
int fmt_quant_parse(const char *name, uint32_t *type);

/* Quantizes n values (a multiple of the type's block values) of x into
 * n / block values blocks at dst (unaligned is fine). Non-finite inputs
 * are treated as 0. Returns 0, or -1 for an unsupported type or n. */
int fmt_quantize_row(uint32_t type, const float *x, void *dst, uint64_t n);
/* Dequantizes n values from the blocks at src into y, exactly as ggml's
 * dequantize_row_* computes them (fp32 products). Returns 0 or -1 as above. */
int fmt_dequantize_row(uint32_t type, const void *src, float *y, uint64_t n);

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's
 * scales[12]. */
void fmt_quant_k_scale_min(const uint8_t *scales, int j, uint8_t *sc, uint8_t *m);

#endif
