/* ggml block types: sizes, quantize and dequantize in plain C (see quant.h). */
#include "formats/quant.h"

#include <math.h>
#include <string.h>

#include "formats/f16.h"

#define HALF_MAX 65504.0f
#define N_CANDIDATES 9 /* scales tried around the range-based one, each step 0.1 levels */

int fmt_quant_supported(uint32_t type) {
    return type == FMT_GGML_Q8_0 || type == FMT_GGML_Q4_0 || type == FMT_GGML_Q4_K || type == FMT_GGML_Q5_K ||
           type == FMT_GGML_Q6_K;
}

uint32_t fmt_quant_block_values(uint32_t type) {
    switch (type) {
    case FMT_GGML_F32: case FMT_GGML_F16: case FMT_GGML_BF16: return 1;
    case FMT_GGML_Q8_0: case FMT_GGML_Q4_0: return FMT_QK_32;
    case FMT_GGML_Q4_K: case FMT_GGML_Q5_K: case FMT_GGML_Q6_K: return FMT_QK_K;
    default: return 0;
    }
}

uint32_t fmt_quant_block_bytes(uint32_t type) {
    switch (type) {
    case FMT_GGML_F32: return 4;
    case FMT_GGML_F16: case FMT_GGML_BF16: return 2;
    case FMT_GGML_Q8_0: return sizeof(fmt_block_q8_0);
    case FMT_GGML_Q4_0: return sizeof(fmt_block_q4_0);
    case FMT_GGML_Q4_K: return sizeof(fmt_block_q4_k);
    case FMT_GGML_Q5_K: return sizeof(fmt_block_q5_k);
    case FMT_GGML_Q6_K: return sizeof(fmt_block_q6_k);
    default: return 0;
    }
}

uint64_t fmt_quant_row_bytes(uint32_t type, uint64_t cols) {
    uint32_t qk = fmt_quant_block_values(type);
    if (!qk || cols % qk) return 0;
    return cols / qk * fmt_quant_block_bytes(type);
}

int fmt_quant_parse(const char *name, uint32_t *type) {
    static const struct { const char *name; uint32_t type; } names[] = {
        {"f16", FMT_GGML_F16}, {"q8_0", FMT_GGML_Q8_0}, {"q4_0", FMT_GGML_Q4_0},
        {"q4_k", FMT_GGML_Q4_K}, {"q5_k", FMT_GGML_Q5_K}, {"q6_k", FMT_GGML_Q6_K},
    };
    char low[8];
    size_t n = strlen(name);
    if (n >= sizeof low) return -1;
    for (size_t i = 0; i <= n; i++) low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(low, names[i].name)) {
            *type = names[i].type;
            return 0;
        }
    return -1;
}

void fmt_quant_k_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* ---- helpers ---- */

static float finite_or_zero(float x) { return isfinite(x) ? x : 0.0f; }

/* binary16 bits of a non-negative or signed scale, clamped to the finite range. */
static uint16_t half_of(float x) {
    if (x > HALF_MAX) x = HALF_MAX;
    if (x < -HALF_MAX) x = -HALF_MAX;
    return fmt_f32_to_f16(x);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- Q8_0 and Q4_0: the reference's arithmetic ---- */

static void quant_q8_0(const float *x, fmt_block_q8_0 *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(finite_or_zero(x[j])));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = half_of(d);
    memcpy(&b->d, &dh, 2);
    for (int j = 0; j < 32; j++) b->qs[j] = (int8_t)roundf(finite_or_zero(x[j]) * id);
}

static void quant_q4_0(const float *x, fmt_block_q4_0 *b) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        float v = finite_or_zero(x[j]);
        if (fabsf(v) > amax) amax = fabsf(v), max = v;
    }
    float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = half_of(d);
    memcpy(&b->d, &dh, 2);
    for (int j = 0; j < 16; j++) {
        int lo = (int)(finite_or_zero(x[j]) * id + 8.5f), hi = (int)(finite_or_zero(x[j + 16]) * id + 8.5f);
        b->qs[j] = (uint8_t)(clampi(lo, 0, 15) | (clampi(hi, 0, 15) << 4));
    }
}

/* ---- K types: least-squares fits of one sub-block ---- */

/* x ~ s * l - m with l in [0, nmax], s >= 0, m >= 0 (the Q4_K / Q5_K form):
 * levels from a range-based scale and N_CANDIDATES nearby ones, each
 * refitted by least squares; the fit with the smallest squared error wins.
 * Writes the levels to L and returns s; *m_out gets m. */
static float fit_affine(const float *x, int n, int nmax, uint8_t *L, float *m_out) {
    float lo = 0, hi = 0;
    for (int i = 0; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    if (hi <= lo) {
        memset(L, 0, (size_t)n);
        *m_out = -lo;
        return 0;
    }
    float best_s = (hi - lo) / (float)nmax, best_b = lo, best_err = INFINITY;
    uint8_t cand[32];
    for (int c = -N_CANDIDATES / 2; c <= N_CANDIDATES / 2; c++) {
        float is = ((float)nmax + 0.1f * (float)c) / (hi - lo);
        double sw = n, sl = 0, sll = 0, sx = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi((int)lrintf((x[i] - lo) * is), 0, nmax);
            cand[i] = (uint8_t)l;
            sl += l, sll += (double)l * l, sx += x[i], sxl += (double)x[i] * l;
        }
        double det = sw * sll - sl * sl, s, b;
        if (det <= 0) continue;
        s = (sw * sxl - sx * sl) / det;
        b = (sll * sx - sl * sxl) / det;
        if (b > 0) b = 0, s = sll > 0 ? sxl / sll : 0; /* the offset must be a non-negative min */
        if (s < 0) continue;
        double err = 0;
        for (int i = 0; i < n; i++) {
            double e = s * cand[i] + b - x[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = (float)err, best_s = (float)s, best_b = (float)b;
            memcpy(L, cand, (size_t)n);
        }
    }
    if (best_err == INFINITY)
        for (int i = 0; i < n; i++) L[i] = (uint8_t)clampi((int)lrintf((x[i] - lo) / best_s), 0, nmax);
    *m_out = -best_b;
    return best_s;
}

/* x ~ s * l with l in [-nmax, nmax - 1] (the Q6_K form), s of either sign:
 * the value of largest magnitude maps near -nmax; candidates as above. */
static float fit_symmetric(const float *x, int n, int nmax) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    if (amax == 0) return 0;
    float best_s = max / (float)-nmax, best_score = -1;
    for (int c = -N_CANDIDATES / 2; c <= N_CANDIDATES / 2; c++) {
        float is = -((float)nmax + 0.1f * (float)c) / max;
        double sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi((int)lrintf(x[i] * is), -nmax, nmax - 1);
            sxl += (double)x[i] * l, sll += (double)l * l;
        }
        /* with the least-squares scale, the error falls as sxl^2 / sll grows */
        if (sll > 0 && sxl * sxl / sll > best_score) best_score = (float)(sxl * sxl / sll), best_s = (float)(sxl / sll);
    }
    return best_s;
}

/* ---- Q4_K and Q5_K ---- */

/* The header (d, dmin, scales[12]) of a super-block whose 8 sub-blocks were
 * fitted to scales s[] and mins m[]; returns the quantized sub-block scale
 * d * sc and min dmin * m per sub-block in ds[], dm[]. */
static void k_header(const float *s, const float *m, uint16_t *d, uint16_t *dmin, uint8_t *scales, float *ds, float *dm) {
    float max_s = 0, max_m = 0;
    for (int j = 0; j < 8; j++) max_s = fmaxf(max_s, s[j]), max_m = fmaxf(max_m, m[j]);
    *d = half_of(max_s / 63.0f);
    *dmin = half_of(max_m / 63.0f);
    float fd = fmt_f16_to_f32(*d), fdm = fmt_f16_to_f32(*dmin);
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = fd > 0 ? clampi((int)lrintf(s[j] / fd), 0, 63) : 0;
        int lm = fdm > 0 ? clampi((int)lrintf(m[j] / fdm), 0, 63) : 0;
        if (j < 4) {
            scales[j] = (uint8_t)ls;
            scales[j + 4] = (uint8_t)lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
        uint8_t sc, mm;
        fmt_quant_k_scale_min(scales, j, &sc, &mm);
        ds[j] = fd * sc;
        dm[j] = fdm * mm;
    }
}

/* Levels of the super-block against its quantized scales and mins. */
static void k_levels(const float *x, const float *ds, const float *dm, int nmax, uint8_t *L) {
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = ds[j] > 0 ? (uint8_t)clampi((int)lrintf((x[32 * j + i] + dm[j]) / ds[j]), 0, nmax) : 0;
}

static void k_fit(const float *x, int nmax, uint16_t *d, uint16_t *dmin, uint8_t *scales, uint8_t *L) {
    float s[8], m[8], ds[8], dm[8], xs[256];
    for (int i = 0; i < 256; i++) xs[i] = finite_or_zero(x[i]);
    for (int j = 0; j < 8; j++) s[j] = fit_affine(xs + 32 * j, 32, nmax, L + 32 * j, &m[j]);
    k_header(s, m, d, dmin, scales, ds, dm);
    k_levels(xs, ds, dm, nmax, L);
}

static void quant_q4_k(const float *x, fmt_block_q4_k *b) {
    uint8_t L[256];
    k_fit(x, 15, &b->d, &b->dmin, b->scales, L);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) b->qs[32 * p + l] = (uint8_t)(L[64 * p + l] | (L[64 * p + 32 + l] << 4));
}

static void quant_q5_k(const float *x, fmt_block_q5_k *b) {
    uint8_t L[256];
    k_fit(x, 31, &b->d, &b->dmin, b->scales, L);
    memset(b->qh, 0, sizeof b->qh);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            int a = L[64 * p + l], c = L[64 * p + 32 + l];
            b->qs[32 * p + l] = (uint8_t)((a & 15) | ((c & 15) << 4));
            b->qh[l] |= (uint8_t)(((a >> 4) << (2 * p)) | ((c >> 4) << (2 * p + 1)));
        }
}

/* ---- Q6_K ---- */

static void quant_q6_k(const float *x, fmt_block_q6_k *b) {
    float xs[256], s[16], max_s = 0, amax = 0;
    for (int i = 0; i < 256; i++) xs[i] = finite_or_zero(x[i]);
    for (int g = 0; g < 16; g++) {
        s[g] = fit_symmetric(xs + 16 * g, 16, 32);
        if (fabsf(s[g]) > amax) amax = fabsf(s[g]), max_s = s[g];
    }
    memset(b, 0, sizeof *b);
    if (amax == 0) return;
    uint16_t dh = half_of(max_s / -128.0f);
    memcpy(&b->d, &dh, 2);
    float d = fmt_f16_to_f32(dh);
    uint8_t L[256];
    for (int g = 0; g < 16; g++) {
        int sc = d != 0 ? clampi((int)lrintf(s[g] / d), -128, 127) : 0;
        b->scales[g] = (int8_t)sc;
        float ds = d * (float)sc;
        for (int i = 0; i < 16; i++)
            L[16 * g + i] = (uint8_t)(ds != 0 ? clampi((int)lrintf(xs[16 * g + i] / ds), -32, 31) + 32 : 32);
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *q = L + 128 * h + l; /* values l, l + 32, l + 64, l + 96 of the half */
            b->ql[64 * h + l] = (uint8_t)((q[0] & 15) | ((q[64] & 15) << 4));
            b->ql[64 * h + 32 + l] = (uint8_t)((q[32] & 15) | ((q[96] & 15) << 4));
            b->qh[32 * h + l] = (uint8_t)((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
        }
}

/* ---- rows ---- */

int fmt_quantize_row(uint32_t type, const float *x, void *dst, uint64_t n) {
    uint32_t qk = fmt_quant_block_values(type);
    if (!fmt_quant_supported(type) || n % qk) return -1;
    uint8_t *out = dst;
    size_t bytes = fmt_quant_block_bytes(type);
    for (uint64_t i = 0; i < n / qk; i++, x += qk, out += bytes) {
        /* a block on the stack, copied out: dst need not be aligned */
        union { fmt_block_q8_0 q8; fmt_block_q4_0 q4; fmt_block_q4_k k4; fmt_block_q5_k k5; fmt_block_q6_k k6; } b;
        switch (type) {
        case FMT_GGML_Q8_0: quant_q8_0(x, &b.q8); break;
        case FMT_GGML_Q4_0: quant_q4_0(x, &b.q4); break;
        case FMT_GGML_Q4_K: quant_q4_k(x, &b.k4); break;
        case FMT_GGML_Q5_K: quant_q5_k(x, &b.k5); break;
        default: quant_q6_k(x, &b.k6); break;
        }
        memcpy(out, &b, bytes);
    }
    return 0;
}

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return fmt_f16_to_f32(h);
}

static void deq_k(const uint8_t *blk, int five, float *y) {
    const uint8_t *scales = blk + 4, *qh = blk + 16, *qs = blk + (five ? 48 : 16);
    float d = half_at(blk), dmin = half_at(blk + 2);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        fmt_quant_k_scale_min(scales, j, &sc, &m);
        float d1 = d * sc, m1 = dmin * m;
        for (int l = 0; l < 32; l++) {
            int q = j & 1 ? qs[32 * (j / 2) + l] >> 4 : qs[32 * (j / 2) + l] & 15;
            if (five) q += (qh[l] >> j & 1) ? 16 : 0;
            y[32 * j + l] = d1 * (float)q - m1;
        }
    }
}

static void deq_q6_k(const uint8_t *blk, float *y) {
    float d = half_at(blk + 208);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(blk + 192) + 8 * h;
        for (int l = 0; l < 32; l++)
            for (int k = 0; k < 4; k++) {
                int lo = k < 2 ? ql[l + 32 * k] & 15 : ql[l + 32 * (k - 2)] >> 4;
                int q = (lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
                y[128 * h + l + 32 * k] = d * sc[l / 16 + 2 * k] * (float)q;
            }
    }
}

int fmt_dequantize_row(uint32_t type, const void *src, float *y, uint64_t n) {
    uint32_t qk = fmt_quant_block_values(type);
    if (!fmt_quant_supported(type) || n % qk) return -1;
    const uint8_t *p = src;
    size_t bytes = fmt_quant_block_bytes(type);
    for (uint64_t i = 0; i < n / qk; i++, p += bytes, y += qk) {
        float d = half_at(p);
        switch (type) {
        case FMT_GGML_Q8_0:
            for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)p[2 + j] * d;
            break;
        case FMT_GGML_Q4_0:
            for (int j = 0; j < 16; j++) {
                y[j] = (float)((p[2 + j] & 15) - 8) * d;
                y[j + 16] = (float)((p[2 + j] >> 4) - 8) * d;
            }
            break;
        case FMT_GGML_Q4_K: deq_k(p, 0, y); break;
        case FMT_GGML_Q5_K: deq_k(p, 1, y); break;
        default: deq_q6_k(p, y); break;
        }
    }
    return 0;
}
