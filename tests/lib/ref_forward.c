/* The reference forward pass (see ref_phi3.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_phi3.h"

static void rmsnorm(const float *x, const float *w, float *y, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = (float)(x[i] * s) * w[i];
}

/* y[r] = sum_k W[r, k] x[k] for r < rows. */
static void matvec(const float *w, const float *x, float *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        double s = 0;
        for (int k = 0; k < cols; k++) s += (double)wr[k] * x[k];
        y[r] = (float)s;
    }
}

/* NeoX rotate_half RoPE on one head: pairs (i, i + d/2). */
static void rope(float *v, int d, const double *cosv, const double *sinv) {
    int h = d / 2;
    for (int i = 0; i < h; i++) {
        double a = v[i], b = v[i + h];
        v[i] = (float)(a * cosv[i] - b * sinv[i]);
        v[i + h] = (float)(b * cosv[i] + a * sinv[i]);
    }
}

void ref_forward(const ref_model *m, const int32_t *tokens, int n, float *logits) {
    const phi3_config *c = &m->cfg;
    int H = c->hidden, D = c->head_dim, NH = c->n_heads, NKV = c->n_kv_heads, F = c->intermediate;
    int qkv_rows = (NH + 2 * NKV) * D, grp = NH / NKV;
    float *x = malloc((size_t)n * H * sizeof *x);
    float *xn = malloc((size_t)H * sizeof *xn);
    float *qkv = malloc((size_t)qkv_rows * sizeof *qkv);
    float *q = malloc((size_t)n * NH * D * sizeof *q);
    float *k = malloc((size_t)n * NKV * D * sizeof *k);
    float *v = malloc((size_t)n * NKV * D * sizeof *v);
    float *att = malloc((size_t)NH * D * sizeof *att);
    float *tmp = malloc((size_t)(2 * F > H ? 2 * F : H) * sizeof *tmp);
    float *ff = malloc((size_t)F * sizeof *ff);
    double *scores = malloc((size_t)n * sizeof *scores);
    double *cosv = malloc((size_t)D / 2 * sizeof *cosv), *sinv = malloc((size_t)D / 2 * sizeof *sinv);

    /* LongRoPE picks one factor set for the whole sequence by its length. */
    const float *factors = NULL;
    if (c->rope_scaling == PHI3_ROPE_LONGROPE) factors = n > c->orig_max_pos ? c->long_factor : c->short_factor;
    double mscale = c->rope_scaling == PHI3_ROPE_LONGROPE ? c->rope_attn_factor : 1.0;

    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, m->embd + (size_t)tokens[t] * H, (size_t)H * sizeof *x);
    for (int l = 0; l < c->n_layers; l++) {
        const ref_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++) {
            float *xt = x + (size_t)t * H;
            rmsnorm(xt, L->attn_norm, xn, H, c->rms_eps);
            matvec(L->qkv, xn, qkv, qkv_rows, H);
            for (int i = 0; i < D / 2; i++) {
                double inv = pow(c->rope_theta, -2.0 * i / D);
                if (factors) inv /= factors[i];
                cosv[i] = cos(t * inv) * mscale;
                sinv[i] = sin(t * inv) * mscale;
            }
            for (int h = 0; h < NH; h++) {
                memcpy(q + ((size_t)t * NH + h) * D, qkv + h * D, (size_t)D * sizeof *q);
                rope(q + ((size_t)t * NH + h) * D, D, cosv, sinv);
            }
            for (int h = 0; h < NKV; h++) {
                memcpy(k + ((size_t)t * NKV + h) * D, qkv + (NH + h) * D, (size_t)D * sizeof *k);
                rope(k + ((size_t)t * NKV + h) * D, D, cosv, sinv);
                memcpy(v + ((size_t)t * NKV + h) * D, qkv + (NH + NKV + h) * D, (size_t)D * sizeof *v);
            }
        }
        for (int t = 0; t < n; t++) {
            int j0 = c->sliding_window > 0 && t - c->sliding_window + 1 > 0 ? t - c->sliding_window + 1 : 0;
            for (int h = 0; h < NH; h++) {
                const float *qh = q + ((size_t)t * NH + h) * D;
                int kh = h / grp;
                double mx = -INFINITY, sum = 0;
                for (int j = j0; j <= t; j++) {
                    const float *kj = k + ((size_t)j * NKV + kh) * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += (double)qh[d] * kj[d];
                    scores[j] = s / sqrt((double)D);
                    if (scores[j] > mx) mx = scores[j];
                }
                for (int j = j0; j <= t; j++) sum += scores[j] = exp(scores[j] - mx);
                for (int d = 0; d < D; d++) {
                    double o = 0;
                    for (int j = j0; j <= t; j++) o += scores[j] * v[((size_t)j * NKV + kh) * D + d];
                    att[h * D + d] = (float)(o / sum);
                }
            }
            float *xt = x + (size_t)t * H;
            matvec(L->o, att, tmp, H, NH * D);
            for (int i = 0; i < H; i++) xt[i] += tmp[i];
            rmsnorm(xt, L->ffn_norm, xn, H, c->rms_eps);
            matvec(L->gate_up, xn, tmp, 2 * F, H);
            for (int i = 0; i < F; i++) {
                double g = tmp[i];
                ff[i] = (float)(g / (1.0 + exp(-g)) * tmp[F + i]);
            }
            matvec(L->down, ff, tmp, H, F);
            for (int i = 0; i < H; i++) xt[i] += tmp[i];
        }
    }
    for (int t = 0; t < n; t++) {
        rmsnorm(x + (size_t)t * H, m->out_norm, xn, H, c->rms_eps);
        matvec(m->lm_head, xn, logits + (size_t)t * c->vocab, c->vocab, H);
    }
    free(x), free(xn), free(qkv), free(q), free(k), free(v), free(att), free(tmp), free(ff), free(scores);
    free(cosv), free(sinv);
}
