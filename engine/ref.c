/* The bench's CPU reference forward pass (see ref.h). The math follows
 * Hugging Face's modeling_phi3 for one new token at position p:
 *   h = x + o_proj(attention(rope(qkv_proj(rmsnorm(x)))))
 *   x = h + down_proj(silu(gate) * up),  gate|up = gate_up_proj(rmsnorm(h))
 *   logits = lm_head(rmsnorm(x)) */
#include "engine/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/f16.h"

typedef struct ref_layer {
    float *attn_norm;  /* [hidden] */
    float *qkv;        /* [(heads + 2 kv_heads) head_dim, hidden], rows q|k|v */
    float *o;          /* [hidden, heads head_dim] */
    float *ffn_norm;   /* [hidden] */
    float *gate_up;    /* [2 intermediate, hidden], rows gate|up */
    float *down;       /* [hidden, intermediate] */
    float *k, *v;      /* [n_ctx, kv_heads head_dim] cache, RoPE applied to k */
} ref_layer;

struct eng_ref {
    phi3_config cfg;
    int n_ctx, n_past;
    float *embd;       /* [vocab, hidden] */
    float *out_norm;   /* [hidden] */
    float *lm_head;    /* [vocab, hidden] */
    ref_layer *layers; /* [n_layers] */
    float *x, *xn, *qkv, *att, *tmp, *ff; /* one token's activations */
    double *scores;    /* [n_ctx] */
};

/* rows x cols values of one weight, rounded through fp16 as the device
 * stores them. */
static float *load(const phi3_synth_opts *o, phi3_weight_kind kind, int layer, uint64_t rows, uint64_t cols) {
    float *w = malloc(rows * cols * sizeof *w);
    if (!w) return NULL;
    phi3_synth_values(o, kind, layer, 0, rows * cols, w);
    for (uint64_t i = 0; i < rows * cols; i++) w[i] = fmt_f16_to_f32(fmt_f32_to_f16(w[i]));
    return w;
}

void eng_ref_destroy(eng_ref *r) {
    if (!r) return;
    for (int l = 0; r->layers && l < r->cfg.n_layers; l++) {
        ref_layer *L = &r->layers[l];
        free(L->attn_norm), free(L->qkv), free(L->o), free(L->ffn_norm), free(L->gate_up), free(L->down);
        free(L->k), free(L->v);
    }
    free(r->layers), free(r->embd), free(r->out_norm), free(r->lm_head);
    free(r->x), free(r->xn), free(r->qkv), free(r->att), free(r->tmp), free(r->ff), free(r->scores);
    free(r);
}

eng_ref *eng_ref_create(const phi3_synth_opts *o, int n_ctx, char *err, size_t errlen) {
    const phi3_config *c = &o->cfg;
    if (c->rope_scaling != PHI3_ROPE_NONE) {
        snprintf(err, errlen, "bench reference: rope_scaling: expected none, found LongRoPE");
        return NULL;
    }
    eng_ref *r = calloc(1, sizeof *r);
    if (!r) goto oom;
    r->cfg = *c;
    r->n_ctx = n_ctx;
    uint64_t H = (uint64_t)c->hidden, D = (uint64_t)c->head_dim, F = (uint64_t)c->intermediate, V = (uint64_t)c->vocab;
    uint64_t QD = (uint64_t)c->n_heads * D, KVD = (uint64_t)c->n_kv_heads * D, QKV = QD + 2 * KVD;
    r->layers = calloc((size_t)c->n_layers, sizeof *r->layers);
    if (!r->layers) goto oom;
    r->embd = load(o, PHI3_W_EMBD, 0, V, H);
    r->out_norm = load(o, PHI3_W_OUTPUT_NORM, 0, 1, H);
    r->lm_head = load(o, PHI3_W_OUTPUT, 0, V, H); /* the embedding's values when tied */
    if (!r->embd || !r->out_norm || !r->lm_head) goto oom;
    for (int l = 0; l < c->n_layers; l++) {
        ref_layer *L = &r->layers[l];
        L->attn_norm = load(o, PHI3_W_ATTN_NORM, l, 1, H);
        L->qkv = load(o, PHI3_W_QKV, l, QKV, H);
        L->o = load(o, PHI3_W_O, l, H, QD);
        L->ffn_norm = load(o, PHI3_W_FFN_NORM, l, 1, H);
        L->gate_up = load(o, PHI3_W_GATE_UP, l, 2 * F, H);
        L->down = load(o, PHI3_W_DOWN, l, H, F);
        L->k = malloc((size_t)n_ctx * KVD * sizeof(float));
        L->v = malloc((size_t)n_ctx * KVD * sizeof(float));
        if (!L->attn_norm || !L->qkv || !L->o || !L->ffn_norm || !L->gate_up || !L->down || !L->k || !L->v) goto oom;
    }
    r->x = malloc(H * sizeof(float));
    r->xn = malloc((H > QD ? H : QD) * sizeof(float));
    r->qkv = malloc(QKV * sizeof(float));
    r->att = malloc(QD * sizeof(float));
    r->tmp = malloc((2 * F > H ? 2 * F : H) * sizeof(float));
    r->ff = malloc(F * sizeof(float));
    r->scores = malloc((size_t)n_ctx * sizeof(double));
    if (!r->x || !r->xn || !r->qkv || !r->att || !r->tmp || !r->ff || !r->scores) goto oom;
    return r;
oom:
    snprintf(err, errlen, "bench reference: out of host memory");
    eng_ref_destroy(r);
    return NULL;
}

static void rmsnorm(const float *x, const float *w, float *y, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = (float)(x[i] * s) * w[i];
}

/* y[r] (+)= sum_k W[r, k] x[k], W [rows, cols]. */
static void matvec(const float *w, const float *x, float *y, int rows, int cols, int accumulate) {
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int k = 0; k < cols; k++) s += (double)w[(size_t)r * cols + k] * x[k];
        y[r] = accumulate ? y[r] + (float)s : (float)s;
    }
}

/* NeoX rotate_half RoPE of one head at position pos: pairs (i, i + d/2). */
static void rope(float *v, int d, int pos, double theta) {
    for (int i = 0; i < d / 2; i++) {
        double f = pos * pow(theta, -2.0 * i / d), a = v[i], b = v[i + d / 2];
        v[i] = (float)(a * cos(f) - b * sin(f));
        v[i + d / 2] = (float)(b * cos(f) + a * sin(f));
    }
}

/* Causal attention of the new token (position p) over the cache, each
 * query head reading kv head h / (heads / kv_heads). */
static void attention(eng_ref *r, const ref_layer *L, int p) {
    const phi3_config *c = &r->cfg;
    int D = c->head_dim, KVD = c->n_kv_heads * D, grp = c->n_heads / c->n_kv_heads;
    int j0 = c->sliding_window > 0 && p - c->sliding_window + 1 > 0 ? p - c->sliding_window + 1 : 0;
    for (int h = 0; h < c->n_heads; h++) {
        const float *q = r->qkv + h * D;
        int kh = h / grp;
        double mx = -INFINITY, sum = 0;
        for (int j = j0; j <= p; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)q[d] * L->k[(size_t)j * KVD + kh * D + d];
            r->scores[j] = s / sqrt((double)D);
            if (r->scores[j] > mx) mx = r->scores[j];
        }
        for (int j = j0; j <= p; j++) sum += r->scores[j] = exp(r->scores[j] - mx);
        for (int d = 0; d < D; d++) {
            double o = 0;
            for (int j = j0; j <= p; j++) o += r->scores[j] * L->v[(size_t)j * KVD + kh * D + d];
            r->att[h * D + d] = (float)(o / sum);
        }
    }
}

int eng_ref_step(eng_ref *r, int32_t token, float *logits) {
    const phi3_config *c = &r->cfg;
    if (r->n_past >= r->n_ctx || token < 0 || token >= c->vocab) return -1;
    int H = c->hidden, D = c->head_dim, F = c->intermediate, p = r->n_past;
    int QD = c->n_heads * D, KVD = c->n_kv_heads * D;
    memcpy(r->x, r->embd + (size_t)token * H, (size_t)H * sizeof *r->x);
    for (int l = 0; l < c->n_layers; l++) {
        ref_layer *L = &r->layers[l];
        /* attention block: q|k|v, RoPE on q and k, cache k and v */
        rmsnorm(r->x, L->attn_norm, r->xn, H, c->rms_eps);
        matvec(L->qkv, r->xn, r->qkv, QD + 2 * KVD, H, 0);
        for (int h = 0; h < c->n_heads + c->n_kv_heads; h++) rope(r->qkv + h * D, D, p, c->rope_theta);
        memcpy(L->k + (size_t)p * KVD, r->qkv + QD, (size_t)KVD * sizeof(float));
        memcpy(L->v + (size_t)p * KVD, r->qkv + QD + KVD, (size_t)KVD * sizeof(float));
        attention(r, L, p);
        matvec(L->o, r->att, r->x, H, QD, 1);
        /* feed-forward block */
        rmsnorm(r->x, L->ffn_norm, r->xn, H, c->rms_eps);
        matvec(L->gate_up, r->xn, r->tmp, 2 * F, H, 0);
        for (int i = 0; i < F; i++) {
            double g = r->tmp[i];
            r->ff[i] = (float)(g / (1.0 + exp(-g)) * r->tmp[F + i]);
        }
        matvec(L->down, r->ff, r->x, H, F, 1);
    }
    rmsnorm(r->x, r->out_norm, r->xn, H, c->rms_eps);
    matvec(r->lm_head, r->xn, logits, c->vocab, H, 0);
    r->n_past++;
    return 0;
}
