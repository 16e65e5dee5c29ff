/* Plain-C kernel references in double precision (see ref_ops.h). */
#include "ref_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ref_matmul(const float *w, const float *x, float *y, uint32_t n, uint32_t k, uint32_t t, int acc) {
    for (uint32_t ti = 0; ti < t; ti++)
        for (uint32_t ni = 0; ni < n; ni++) {
            double s = 0;
            for (uint32_t ki = 0; ki < k; ki++) s += (double)w[(size_t)ni * k + ki] * x[(size_t)ti * k + ki];
            y[(size_t)ti * n + ni] = (float)(acc ? y[(size_t)ti * n + ni] + s : s);
        }
}

void ref_rmsnorm(const float *x, const float *w, float *y, uint32_t n, uint32_t t, float eps) {
    for (uint32_t ti = 0; ti < t; ti++) {
        double ss = 0;
        for (uint32_t i = 0; i < n; i++) ss += (double)x[(size_t)ti * n + i] * x[(size_t)ti * n + i];
        double s = 1.0 / sqrt(ss / n + eps);
        for (uint32_t i = 0; i < n; i++) y[(size_t)ti * n + i] = (float)(x[(size_t)ti * n + i] * s * w[i]);
    }
}

void ref_attention(const ref_attn_shape *c, const float *q, const float *k, const float *v, float *out) {
    uint32_t d = c->head_dim, g = c->n_heads / c->n_kv_heads, kvw = c->n_kv_heads * d;
    double *s = malloc(((size_t)c->n_past + c->n_tokens) * sizeof *s), *o = malloc(d * sizeof *o);
    if (!s || !o) abort();
    for (uint32_t t = 0; t < c->n_tokens; t++)
        for (uint32_t h = 0; h < c->n_heads; h++) {
            uint32_t pos = c->n_past + t, lo = c->window && pos + 1 > c->window ? pos + 1 - c->window : 0;
            const float *qh = q + ((size_t)t * c->n_heads + h) * d;
            size_t kvo = (size_t)(h / g) * d;
            double m = -INFINITY, sum = 0;
            for (uint32_t j = lo; j <= pos; j++) {
                double dot = 0;
                for (uint32_t i = 0; i < d; i++) dot += (double)qh[i] * k[(size_t)j * kvw + kvo + i];
                s[j] = dot / sqrt((double)d);
                if (s[j] > m) m = s[j];
            }
            memset(o, 0, d * sizeof *o);
            for (uint32_t j = lo; j <= pos; j++) {
                double p = exp(s[j] - m);
                sum += p;
                for (uint32_t i = 0; i < d; i++) o[i] += p * v[(size_t)j * kvw + kvo + i];
            }
            for (uint32_t i = 0; i < d; i++) out[((size_t)t * c->n_heads + h) * d + i] = (float)(o[i] / sum);
        }
    free(s);
    free(o);
}
