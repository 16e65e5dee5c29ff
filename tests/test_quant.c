/* formats/quant: ggml's block layouts byte for byte, against blocks worked
 * out by hand from the ggml definitions (ggml-common.h, dequantize_row_* in
 * ggml-quants.c), and the quantizers' round trip.
 *
 * The hand-made blocks fix every field's offset and bit position: the
 * binary16 scales, Q4_0's low/high nibble halves, the 6-bit scale and min
 * packing of Q4_K / Q5_K (both the j < 4 and j >= 4 cases), Q5_K's fifth
 * bits, Q6_K's split of 6-bit values over ql / qh and its 16 int8 scales.
 * Round-trip bounds (nmse of dequantize(quantize(x)) for Gaussian x): about
 * 2^-2b / 3 relative for b bits with a per-block scale, with margin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/f16.h"
#include "formats/quant.h"
#include "lib/check.h"

static void put_half(uint8_t *p, uint16_t h) { p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8); }

/* Q8_0: d = max|x| / 127 and roundf (halves away from zero); x = q * d. */
static void test_q8_0(void) {
    float x[32] = {127.0f, -3.2f, 2.5f, -2.5f, 0.49f, -0.5f, 100.7f};
    uint8_t b[34];
    CHECK(fmt_quantize_row(FMT_GGML_Q8_0, x, b, 32) == 0, "quantize");
    CHECK(b[0] == 0x00 && b[1] == 0x3C, "d = 1.0 as binary16 0x3C00, little-endian: %02x %02x", b[0], b[1]);
    const int8_t want[7] = {127, -3, 3, -3, 0, -1, 101};
    for (int j = 0; j < 7; j++) CHECK((int8_t)b[2 + j] == want[j], "qs[%d] = %d, expected %d", j, (int8_t)b[2 + j], want[j]);
    for (int j = 7; j < 32; j++) CHECK(b[2 + j] == 0, "qs[%d] = %d", j, b[2 + j]);
    /* a hand-made block: d = 0.5, q = -128, -1, 0, 1, 127 */
    uint8_t h[34] = {0};
    put_half(h, 0x3800);
    h[2] = 0x80, h[3] = 0xFF, h[5] = 0x01, h[6] = 0x7F;
    float y[32];
    CHECK(fmt_dequantize_row(FMT_GGML_Q8_0, h, y, 32) == 0, "dequantize");
    CHECK(y[0] == -64.0f && y[1] == -0.5f && y[2] == 0.0f && y[3] == 0.5f && y[4] == 63.5f, "Q8_0 values %g %g %g %g %g",
          y[0], y[1], y[2], y[3], y[4]);
}

/* Q4_0: d = m / -8 (m the value of largest magnitude, signed), q = min(15,
 * trunc(x / d + 8.5)); byte j: value j low nibble, value j + 16 high. */
static void test_q4_0(void) {
    float x[32] = {0};
    x[0] = -16, x[1] = 14, x[2] = 15, x[3] = 1, x[4] = -1, x[5] = 0.99f, x[16] = 3, x[31] = -15;
    uint8_t b[18];
    CHECK(fmt_quantize_row(FMT_GGML_Q4_0, x, b, 32) == 0, "quantize");
    CHECK(b[0] == 0x00 && b[1] == 0x40, "d = 2.0 (0x4000): %02x %02x", b[0], b[1]);
    /* q: x0 0, x1 15, x2 min(15, 16), x3 9, x4 8, x5 8; x16 10, x31 1; zeros 8 */
    CHECK(b[2] == (0 | 10 << 4), "qs[0] = 0x%02x (value 0 low, value 16 high)", b[2]);
    CHECK(b[3] == (15 | 8 << 4) && b[4] == (15 | 8 << 4) && b[5] == (9 | 8 << 4) && b[6] == (8 | 8 << 4) &&
              b[7] == (8 | 8 << 4),
          "qs[1..5] = %02x %02x %02x %02x %02x", b[3], b[4], b[5], b[6], b[7]);
    CHECK(b[17] == (8 | 1 << 4), "qs[15] = 0x%02x (value 31 high)", b[17]);
    x[0] = 16; /* the largest magnitude positive: d = -2 */
    fmt_quantize_row(FMT_GGML_Q4_0, x, b, 32);
    CHECK(b[0] == 0x00 && b[1] == 0xC0 && (b[2] & 15) == 0, "d = -2.0 (0xC000), q(16) = 0: %02x %02x %02x", b[0], b[1], b[2]);
    float y[32];
    uint8_t h[18] = {0};
    put_half(h, 0x4000);
    h[2] = 0x1F;
    fmt_dequantize_row(FMT_GGML_Q4_0, h, y, 32);
    CHECK(y[0] == 14.0f && y[16] == -14.0f && y[1] == -16.0f, "Q4_0 values %g %g %g", y[0], y[16], y[1]);
}

/* A Q4_K / Q5_K header: d = 1, dmin = 0.5; sub-block 0: sc 1, m 2;
 * sub-block 5: sc 37 (0b100101), m 26 (0b011010), packed as ggml does for
 * j >= 4: scales[9] = (sc & 15) | (m & 15) << 4, the top two bits of sc in
 * scales[1] >> 6, of m in scales[5] >> 6. */
static void k_header(uint8_t *b) {
    put_half(b, 0x3C00);
    put_half(b + 2, 0x3800);
    uint8_t *s = b + 4;
    s[0] = 1, s[4] = 2;
    s[9] = 0x5 | 0xA << 4;
    s[1] |= 2 << 6;
    s[5] |= 1 << 6;
}

static void test_k_scales(void) {
    uint8_t b[144] = {0}, sc, m;
    k_header(b);
    fmt_quant_k_scale_min(b + 4, 0, &sc, &m);
    CHECK(sc == 1 && m == 2, "sub-block 0: sc %u m %u", sc, m);
    fmt_quant_k_scale_min(b + 4, 5, &sc, &m);
    CHECK(sc == 37 && m == 26, "sub-block 5: sc %u m %u", sc, m);
    fmt_quant_k_scale_min(b + 4, 1, &sc, &m);
    CHECK(sc == 0 && m == 0, "sub-block 1 keeps only the low 6 bits of scales[1]: sc %u m %u", sc, m);
}

/* Q4_K: qs in 32-byte groups per sub-block pair, low nibble = the even one. */
static void test_q4_k(void) {
    uint8_t b[144] = {0};
    k_header(b);
    uint8_t *qs = b + 16;
    qs[0] = 0x07;       /* sub-block 0 value 0: q 7 */
    qs[64] = 0x30;      /* sub-block 5 value 0 (high nibble of pair 2): q 3; sub-block 4 value 0: q 0 */
    qs[64 + 31] = 0xF0; /* sub-block 5 value 31: q 15 */
    float y[256];
    CHECK(fmt_dequantize_row(FMT_GGML_Q4_K, b, y, 256) == 0, "dequantize");
    CHECK(y[0] == 6.0f, "value 0 = 1 * 1 * 7 - 0.5 * 2 = 6, got %g", y[0]);
    CHECK(y[1] == -1.0f, "value 1 = -0.5 * 2 = -1, got %g", y[1]);
    CHECK(y[160] == 98.0f && y[191] == 542.0f, "sub-block 5: 37 * 3 - 13 = 98, 37 * 15 - 13 = 542; got %g %g", y[160], y[191]);
    CHECK(y[128] == 0.0f, "sub-block 4 (sc 0, m 0): %g", y[128]);
}

/* Q5_K: as Q4_K with qh[32] before qs; bit j of qh[l] adds 16 to value l of
 * sub-block j. */
static void test_q5_k(void) {
    uint8_t b[176] = {0};
    k_header(b);
    uint8_t *qh = b + 16, *qs = b + 48;
    qs[0] = 0x07;
    qh[0] = 1 << 0;        /* sub-block 0, value 0: q 7 + 16 */
    qs[64] = 0x30;
    qh[0] |= 1 << 5;       /* sub-block 5, value 0: q 3 + 16 */
    qh[3] = 1 << 0;        /* sub-block 0, value 3: q 0 + 16 */
    float y[256];
    CHECK(fmt_dequantize_row(FMT_GGML_Q5_K, b, y, 256) == 0, "dequantize");
    CHECK(y[0] == 22.0f && y[160] == 37.0f * 19 - 13 && y[3] == 15.0f && y[4] == -1.0f, "Q5_K values %g %g %g %g", y[0], y[160], y[3], y[4]);
}

/* Q6_K: value l + 32 k of a 128-value half: low 4 bits in ql[l + 32 (k & 1)]
 * (low nibble for k < 2), high 2 bits at bit 2 k of qh[l], scale
 * scales[l / 16 + 2 k]; x = d * scale * (q - 32). d is last. */
static void test_q6_k(void) {
    uint8_t b[210] = {0};
    uint8_t *ql = b, *qh = b + 128;
    int8_t *sc = (int8_t *)(b + 192);
    put_half(b + 208, 0x3400); /* d = 0.25 */
    sc[0] = 2, sc[2] = -3, sc[4] = 1, sc[8] = 4, sc[1] = 5;
    ql[0] = 0x05;              /* value 0: low 5 (high nibble 0: value 64 low 0) */
    qh[0] = 2 | 1 << 2;        /* value 0 high 2 -> q 37; value 32 high 1 */
    ql[32] = 0x0F;             /* value 32: low 15 -> q 31 */
    ql[64] = 0x01;             /* second half, value 0: low 1 */
    qh[32] = 3;                /* ... high 3 -> q 49 */
    qh[16] = 2;                /* value 16: high 2, low 0 -> q 32 */
    float y[256];
    CHECK(fmt_dequantize_row(FMT_GGML_Q6_K, b, y, 256) == 0, "dequantize");
    CHECK(y[0] == 2.5f, "value 0: 0.25 * 2 * 5 = 2.5, got %g", y[0]);
    CHECK(y[32] == 0.75f, "value 32: 0.25 * -3 * -1 = 0.75, got %g", y[32]);
    CHECK(y[64] == -8.0f, "value 64: 0.25 * 1 * -32 = -8, got %g", y[64]);
    CHECK(y[128] == 17.0f, "value 128: 0.25 * 4 * 17 = 17, got %g", y[128]);
    CHECK(y[16] == 0.0f && y[17] == 0.25f * 5 * -32, "values 16, 17 (scale 1): %g %g", y[16], y[17]);
}

/* quantize -> dequantize of Gaussian rows (and rows with an offset, which
 * the K types' mins absorb): nmse under each type's bound; re-quantizing
 * the dequantized values gives them back (the quantizer finds its own grid
 * for Q8_0 / Q4_0, whose scale depends only on the largest value). */
static void test_round_trip(void) {
    static const struct { uint32_t type; double bound; } types[] = {
        {FMT_GGML_Q8_0, 5e-5}, {FMT_GGML_Q4_0, 1.5e-2}, {FMT_GGML_Q4_K, 8e-3}, {FMT_GGML_Q5_K, 2e-3}, {FMT_GGML_Q6_K, 5e-4},
    };
    enum { N = 4096 };
    float *x = malloc(N * 4), *y = malloc(N * 4), *z = malloc(N * 4);
    uint8_t *q = malloc(N * 2), *q2 = malloc(N * 2);
    test_rng r = {7};
    for (int off = 0; off < 2; off++) {
        for (int i = 0; i < N; i++) x[i] = test_rng_normal(&r) * 0.05f + (off ? 0.03f * (float)(i / 32 % 3) : 0.0f);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            uint32_t ty = types[t].type;
            CHECK(fmt_quantize_row(ty, x, q, N) == 0 && fmt_dequantize_row(ty, q, y, N) == 0, "%s", fmt_ggml_type_name(ty));
            double e = test_nmse(y, x, N);
            CHECK(e <= types[t].bound, "%s%s: round trip nmse %.3g > %.1g", fmt_ggml_type_name(ty), off ? " (offset)" : "", e,
                  types[t].bound);
            printf("%-4s%s: bytes %llu for %d values, round trip nmse %.2e\n", fmt_ggml_type_name(ty), off ? " +offset" : "        ",
                   (unsigned long long)fmt_quant_row_bytes(ty, N), N, e);
            if (ty == FMT_GGML_Q8_0 || ty == FMT_GGML_Q4_0) {
                fmt_quantize_row(ty, y, q2, N);
                fmt_dequantize_row(ty, q2, z, N);
                CHECK(test_nmse(z, y, N) <= 1e-12, "%s: re-quantizing its own values moves them (nmse %.3g)",
                      fmt_ggml_type_name(ty), test_nmse(z, y, N));
            }
        }
    }
    free(x), free(y), free(z), free(q), free(q2);
}

/* Zeros give zero blocks; NaN and inf are quantized as 0; values beyond
 * binary16 clamp the scale instead of storing inf. */
static void test_edges(void) {
    float x[256] = {0}, y[256];
    uint8_t q[272]; /* 8 Q8_0 blocks, the largest row of 256 values */
    const uint32_t types[] = {FMT_GGML_Q8_0, FMT_GGML_Q4_0, FMT_GGML_Q4_K, FMT_GGML_Q5_K, FMT_GGML_Q6_K};
    for (size_t t = 0; t < 5; t++) {
        uint32_t ty = types[t];
        memset(x, 0, sizeof x);
        fmt_quantize_row(ty, x, q, 256);
        fmt_dequantize_row(ty, q, y, 256);
        int zero = 1;
        for (int i = 0; i < 256; i++) zero &= y[i] == 0.0f;
        CHECK(zero, "%s: zeros do not come back as zeros", fmt_ggml_type_name(ty));
        x[3] = NAN, x[4] = INFINITY, x[5] = 1.0f, x[200] = 1e30f;
        fmt_quantize_row(ty, x, q, 256);
        fmt_dequantize_row(ty, q, y, 256);
        int finite = 1;
        for (int i = 0; i < 256; i++) finite &= isfinite(y[i]);
        CHECK(finite && y[3] == y[6], "%s: NaN / inf / 1e30 inputs give non-finite output or NaN != 0", fmt_ggml_type_name(ty));
    }
    CHECK(fmt_quantize_row(FMT_GGML_Q4_K, x, q, 100) == -1 && fmt_quantize_row(FMT_GGML_F16, x, q, 32) == -1,
          "partial blocks and non-block types are refused");
    CHECK(fmt_quant_row_bytes(FMT_GGML_Q4_K, 3072) == 1728 && fmt_quant_row_bytes(FMT_GGML_Q8_0, 3072) == 3264 &&
              fmt_quant_row_bytes(FMT_GGML_Q6_K, 3072) == 2520 && fmt_quant_row_bytes(FMT_GGML_Q5_K, 3072) == 2112 &&
              fmt_quant_row_bytes(FMT_GGML_Q4_0, 3072) == 1728 && fmt_quant_row_bytes(FMT_GGML_Q4_K, 3000) == 0 &&
              fmt_quant_row_bytes(FMT_GGML_F16, 3) == 6,
          "row bytes");
    uint32_t ty = 0;
    CHECK(fmt_quant_parse("Q4_K", &ty) == 0 && ty == FMT_GGML_Q4_K && fmt_quant_parse("q8_0", &ty) == 0 &&
              ty == FMT_GGML_Q8_0 && fmt_quant_parse("q4_1", &ty) == -1 && fmt_quant_parse("q4_k_m_and_more", &ty) == -1,
          "parse");
}

int main(void) {
    test_q8_0();
    test_q4_0();
    test_k_scales();
    test_q4_k();
    test_q5_k();
    test_q6_k();
    test_round_trip();
    test_edges();
    return test_finish();
}
