/* The CPU reference forward pass (see ref.h). The math follows Hugging
 * Face's modeling_phi3, for tokens t at positions p:
 *   h = x + o_proj(attention(rope(qkv_proj(rmsnorm(x)))))
 *   x = h + down_proj(silu(gate) * up),  gate|up = gate_up_proj(rmsnorm(h))
 *   logits = lm_head(rmsnorm(x))
 * computed layer by layer for all the new tokens, so a streamed layer is
 * read once per call. */
#include "engine/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "formats/f16.h"
#include "formats/quant.h"
#include "model/config.h"
#include "model/tensors.h"
#include "util/par.h"

#define REF_CHUNK (1u << 20) /* values converted per read */
#define REF_HEAD_ROWS 4096   /* lm_head rows held at a time when streamed */

typedef struct ref_layer {
    float *attn_norm;  /* [hidden] */
    float *qkv;        /* [(heads + 2 kv_heads) head_dim, hidden], rows q|k|v */
    float *o;          /* [hidden, heads head_dim] */
    float *ffn_norm;   /* [hidden] */
    float *gate_up;    /* [2 intermediate, hidden], rows gate|up */
    float *down;       /* [hidden, intermediate] */
} ref_layer;

struct eng_ref {
    phi3_config cfg;          /* n_layers cut to max_layers */
    phi3_synth_opts synth;    /* when src is NULL */
    const phi3_source *src;
    phi3_quant weights;       /* eng_ref_opts.weights */
    int all_layers, tied;     /* of the whole checkpoint, for eng_weight_dtype */
    int n_ctx, n_past, stream, threads;
    float *embd;              /* resident: [vocab, hidden] */
    float *out_norm;          /* [hidden] */
    float *lm_head;           /* resident: [vocab, hidden] */
    ref_layer *layers;        /* resident: [n_layers]; streamed: [1], refilled per layer */
    float **k, **v;           /* [n_layers] caches [n_ctx, kv_heads head_dim], RoPE applied to k */
    double *cos, *sin;        /* [n_ctx, head_dim / 2] RoPE table */
};

/* ---- weights ---- */

typedef struct read_job {
    const eng_ref *r;
    phi3_weight_kind kind;
    int layer;
    uint64_t row0, cols;
    float *out;               /* [rows, cols] */
} read_job;

/* Rows [row0, row0 + n) of a weight held in block type dt on the device, as
 * the values the device computes with: the file's own blocks, or float
 * rows quantized as the upload quantizes them, dequantized to out. */
static int read_blocks(const eng_ref *r, const read_job *j, uint32_t dt, uint64_t row0, uint64_t n, float *out,
                       uint8_t *blk, char *err, size_t errlen) {
    uint64_t cols = j->cols, rb = fmt_quant_row_bytes(dt, cols);
    const phi3_tensor *t = r->src ? phi3_source_weight(r->src, j->kind, j->layer) : NULL;
    if (t && phi3_tensor_type(t) == dt) {
        if (phi3_source_read_rows_raw(r->src, t, row0, n, blk, err, errlen)) return -1;
    } else {
        if (t && phi3_source_read_rows_f32(r->src, t, row0, n, out, err, errlen)) return -1;
        if (!t) phi3_synth_values(&r->synth, j->kind, j->layer, row0 * cols, n * cols, out);
        for (uint64_t i = 0; i < n; i++) fmt_quantize_row(dt, out + i * cols, blk + i * rb, cols);
    }
    for (uint64_t i = 0; i < n; i++) fmt_dequantize_row(dt, blk + i * rb, out + i * cols, cols);
    return 0;
}

/* Rows [lo, hi) of the job's weight (relative to row0) as the device holds
 * them: rounded through fp16, or through its block type. */
static void read_range(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    (void)part;
    const read_job *j = ctx;
    const eng_ref *r = j->r;
    uint64_t cols = j->cols, step = REF_CHUNK / cols ? REF_CHUNK / cols : 1;
    uint64_t all, c;
    phi3_weight_shape(&r->cfg, j->kind, &all, &c);
    uint32_t dt = eng_weight_dtype(r->src, r->weights, r->all_layers, r->tied, j->kind, j->layer, all ? all : 1, cols);
    if (dt != FMT_GGML_F16) {
        uint8_t *blk = malloc(step * fmt_quant_row_bytes(dt, cols));
        if (!blk) snprintf(err, errlen, "reference: out of host memory");
        for (uint64_t row = lo; blk && row < hi; row += step)
            if (read_blocks(r, j, dt, j->row0 + row, hi - row < step ? hi - row : step, j->out + row * cols, blk, err,
                            errlen))
                break;
        free(blk);
        return;
    }
    uint16_t *h = r->src ? malloc(step * cols * sizeof *h) : NULL;
    if (r->src && !h) {
        snprintf(err, errlen, "reference: out of host memory");
        return;
    }
    for (uint64_t row = lo; row < hi; row += step) {
        uint64_t n = hi - row < step ? hi - row : step;
        float *out = j->out + row * cols;
        if (!r->src) {
            phi3_synth_values(&r->synth, j->kind, j->layer, (j->row0 + row) * cols, n * cols, out);
            for (uint64_t i = 0; i < n * cols; i++) out[i] = fmt_f16_to_f32(fmt_f32_to_f16(out[i]));
            continue;
        }
        const phi3_tensor *t = phi3_source_weight(r->src, j->kind, j->layer);
        if (!t || phi3_source_read_rows_f16(r->src, t, j->row0 + row, n, h, cols, NULL, err, errlen)) {
            if (!t) snprintf(err, errlen, "reference: no weight of kind %d in layer %d", (int)j->kind, j->layer);
            break;
        }
        for (uint64_t i = 0; i < n * cols; i++) out[i] = fmt_f16_to_f32(h[i]);
    }
    free(h);
}

/* Rows [row0, row0 + rows) of a weight as floats (malloc'd), or NULL with err. */
static float *read_weight(const eng_ref *r, phi3_weight_kind kind, int layer, uint64_t row0, uint64_t rows,
                          char *err, size_t errlen) {
    uint64_t all, cols;
    phi3_weight_shape(&r->cfg, kind, &all, &cols);
    if (!rows) rows = 1; /* a 1-D weight is one row */
    float *w = malloc(rows * cols * sizeof *w);
    if (!w) {
        snprintf(err, errlen, "reference: out of host memory for %llu x %llu floats", (unsigned long long)rows,
                 (unsigned long long)cols);
        return NULL;
    }
    read_job j = {.r = r, .kind = kind, .layer = layer, .row0 = row0, .cols = cols, .out = w};
    if (util_par_ranges(rows * cols >= REF_CHUNK ? r->threads : 1, rows, read_range, &j, err, errlen)) {
        free(w);
        return NULL;
    }
    return w;
}

static uint64_t weight_rows(const eng_ref *r, phi3_weight_kind kind) {
    uint64_t rows, cols;
    phi3_weight_shape(&r->cfg, kind, &rows, &cols);
    return rows ? rows : 1;
}

static void layer_free(ref_layer *L) {
    free(L->attn_norm), free(L->qkv), free(L->o), free(L->ffn_norm), free(L->gate_up), free(L->down);
    memset(L, 0, sizeof *L);
}

static int layer_load(const eng_ref *r, int l, ref_layer *L, char *err, size_t errlen) {
    struct { float **dst; phi3_weight_kind kind; } w[] = {
        {&L->attn_norm, PHI3_W_ATTN_NORM}, {&L->qkv, PHI3_W_QKV},         {&L->o, PHI3_W_O},
        {&L->ffn_norm, PHI3_W_FFN_NORM},   {&L->gate_up, PHI3_W_GATE_UP}, {&L->down, PHI3_W_DOWN}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (!(*w[i].dst = read_weight(r, w[i].kind, l, 0, weight_rows(r, w[i].kind), err, errlen))) {
            layer_free(L);
            return -1;
        }
    return 0;
}

/* ---- create / destroy ---- */

void eng_ref_destroy(eng_ref *r) {
    if (!r) return;
    for (int l = 0; r->layers && l < (r->stream ? 1 : r->cfg.n_layers); l++) layer_free(&r->layers[l]);
    for (int l = 0; r->k && l < r->cfg.n_layers; l++) free(r->k[l]), free(r->v[l]);
    free(r->layers), free(r->k), free(r->v), free(r->embd), free(r->out_norm), free(r->lm_head);
    free(r->cos), free(r->sin);
    free(r);
}

/* The RoPE table as the device's (kern_rope_table): plain, or LongRoPE's
 * short factors and attention factor. */
static void rope_table(eng_ref *r) {
    const phi3_config *c = &r->cfg;
    int half = c->head_dim / 2;
    int longrope = c->rope_scaling == PHI3_ROPE_LONGROPE;
    double mscale = longrope ? c->rope_attn_factor : 1.0;
    for (int i = 0; i < half; i++) {
        double f = pow(c->rope_theta, -2.0 * i / c->head_dim) / (longrope ? (double)c->short_factor[i] : 1.0);
        for (int p = 0; p < r->n_ctx; p++) {
            r->cos[(size_t)p * half + i] = cos(p * f) * mscale;
            r->sin[(size_t)p * half + i] = sin(p * f) * mscale;
        }
    }
}

eng_ref *eng_ref_open(const eng_ref_opts *o, char *err, size_t errlen) {
    eng_ref *r = calloc(1, sizeof *r);
    if (!r) goto oom;
    if (o->src) r->src = o->src, r->cfg = *phi3_source_config(o->src);
    else r->synth = *o->synth, r->cfg = o->synth->cfg;
    phi3_config *c = &r->cfg;
    r->weights = o->weights, r->all_layers = c->n_layers;
    r->tied = o->src ? phi3_source_output_is_tied(o->src) : c->tie_word_embeddings;
    /* the derived fields (LongRoPE's attention factor) as the engine's copy has them */
    if (!o->src && phi3_config_validate(c, "reference model", err, errlen)) goto fail;
    if (o->max_layers > 0 && o->max_layers < c->n_layers) c->n_layers = o->max_layers;
    r->n_ctx = o->n_ctx, r->stream = o->stream, r->threads = o->threads < 1 ? 1 : o->threads;
    if (c->rope_scaling == PHI3_ROPE_LONGROPE && r->n_ctx > c->orig_max_pos) {
        snprintf(err, errlen, "reference: %d positions exceed original_max_position_embeddings %d (LongRoPE's "
                 "long factors are not modelled)", r->n_ctx, c->orig_max_pos);
        eng_ref_destroy(r);
        return NULL;
    }
    size_t kvd = (size_t)c->n_kv_heads * c->head_dim, half = (size_t)c->head_dim / 2;
    r->layers = calloc(r->stream ? 1 : (size_t)c->n_layers, sizeof *r->layers);
    r->k = calloc((size_t)c->n_layers, sizeof *r->k);
    r->v = calloc((size_t)c->n_layers, sizeof *r->v);
    r->cos = malloc((size_t)r->n_ctx * half * sizeof *r->cos);
    r->sin = malloc((size_t)r->n_ctx * half * sizeof *r->sin);
    if (!r->layers || !r->k || !r->v || !r->cos || !r->sin) goto oom;
    for (int l = 0; l < c->n_layers; l++) {
        r->k[l] = malloc((size_t)r->n_ctx * kvd * sizeof(float));
        r->v[l] = malloc((size_t)r->n_ctx * kvd * sizeof(float));
        if (!r->k[l] || !r->v[l]) goto oom;
    }
    rope_table(r);
    if (!(r->out_norm = read_weight(r, PHI3_W_OUTPUT_NORM, 0, 0, 1, err, errlen))) goto fail;
    if (r->stream) return r;
    if (!(r->embd = read_weight(r, PHI3_W_EMBD, 0, 0, (uint64_t)c->vocab, err, errlen)) ||
        !(r->lm_head = read_weight(r, PHI3_W_OUTPUT, 0, 0, (uint64_t)c->vocab, err, errlen)))
        goto fail;
    for (int l = 0; l < c->n_layers; l++)
        if (layer_load(r, l, &r->layers[l], err, errlen)) goto fail;
    return r;
oom:
    snprintf(err, errlen, "reference: out of host memory");
fail:
    eng_ref_destroy(r);
    return NULL;
}

eng_ref *eng_ref_create(const phi3_synth_opts *synth, int n_ctx, char *err, size_t errlen) {
    return eng_ref_open(&(eng_ref_opts){.synth = synth, .n_ctx = n_ctx}, err, errlen);
}

const phi3_config *eng_ref_config(const eng_ref *r) { return &r->cfg; }

/* ---- the math ---- */

static void rmsnorm(const float *x, const float *w, float *y, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = (float)(x[i] * s) * w[i];
}

typedef struct mm_job {
    const float *w;    /* [rows, cols] */
    const float *x;    /* [n, cols] */
    float *y;          /* y[t * ldy + r] (+)= w[r] . x[t] */
    int cols, n, ldy, acc;
} mm_job;

static void mm_range(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    (void)part, (void)err, (void)errlen;
    const mm_job *j = ctx;
    for (uint64_t r = lo; r < hi; r++) {
        const float *w = j->w + r * (uint64_t)j->cols;
        for (int t = 0; t < j->n; t++) {
            const float *x = j->x + (size_t)t * j->cols;
            double s = 0;
            for (int k = 0; k < j->cols; k++) s += (double)w[k] * x[k];
            float *y = &j->y[(size_t)t * j->ldy + r];
            *y = j->acc ? *y + (float)s : (float)s;
        }
    }
}

/* y [n, ldy] (+)= x [n, cols] w[rows, cols]^T in the first rows columns. */
static void matmul(const eng_ref *r, const float *w, int rows, int cols, const float *x, int n, float *y, int ldy,
                   int acc) {
    mm_job j = {.w = w, .x = x, .y = y, .cols = cols, .n = n, .ldy = ldy, .acc = acc};
    char err[8];
    int threads = (double)rows * cols * n > 4e6 ? r->threads : 1;
    util_par_ranges(threads, (uint64_t)rows, mm_range, &j, err, sizeof err);
}

/* NeoX rotate_half RoPE of one head at position p: pairs (i, i + d/2). */
static void rope(const eng_ref *r, float *v, int p) {
    int h = r->cfg.head_dim / 2;
    const double *c = r->cos + (size_t)p * h, *s = r->sin + (size_t)p * h;
    for (int i = 0; i < h; i++) {
        double a = v[i], b = v[i + h];
        v[i] = (float)(a * c[i] - b * s[i]);
        v[i + h] = (float)(b * c[i] + a * s[i]);
    }
}

/* Causal attention of the query q (all heads) at position p over layer l's
 * cache, each query head reading kv head h / (heads / kv_heads). */
static void attention(const eng_ref *r, int l, const float *q, int p, double *scores, float *out) {
    const phi3_config *c = &r->cfg;
    int D = c->head_dim, KVD = c->n_kv_heads * D, grp = c->n_heads / c->n_kv_heads;
    int j0 = c->sliding_window > 0 && p - c->sliding_window + 1 > 0 ? p - c->sliding_window + 1 : 0;
    for (int h = 0; h < c->n_heads; h++) {
        const float *qh = q + h * D;
        int kh = h / grp;
        double mx = -INFINITY, sum = 0;
        for (int j = j0; j <= p; j++) {
            const float *k = r->k[l] + (size_t)j * KVD + kh * D;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)qh[d] * k[d];
            scores[j] = s / sqrt((double)D);
            if (scores[j] > mx) mx = scores[j];
        }
        for (int j = j0; j <= p; j++) sum += scores[j] = exp(scores[j] - mx);
        for (int d = 0; d < D; d++) {
            double o = 0;
            for (int j = j0; j <= p; j++) o += scores[j] * r->v[l][(size_t)j * KVD + kh * D + d];
            out[h * D + d] = (float)(o / sum);
        }
    }
}

/* Activations of one forward call over n tokens. */
typedef struct acts {
    float *x, *xn, *qkv, *att, *ff, *gu; /* [n, hidden], [n, max(hidden, q dim)], [n, qkv], [n, q dim],
                                            [n, ffn], [n, 2 ffn] */
    double *scores;                      /* [n_ctx] */
} acts;

static void acts_free(acts *a) {
    free(a->x), free(a->xn), free(a->qkv), free(a->att), free(a->ff), free(a->gu), free(a->scores);
}

static int acts_alloc(const eng_ref *r, int n, acts *a) {
    const phi3_config *c = &r->cfg;
    size_t H = (size_t)c->hidden, QD = (size_t)c->n_heads * c->head_dim, F = (size_t)c->intermediate;
    size_t QKV = QD + 2 * (size_t)c->n_kv_heads * c->head_dim;
    memset(a, 0, sizeof *a);
    a->x = malloc(n * H * sizeof(float));
    a->xn = malloc(n * (H > QD ? H : QD) * sizeof(float));
    a->qkv = malloc(n * QKV * sizeof(float));
    a->att = malloc(n * QD * sizeof(float));
    a->ff = malloc(n * F * sizeof(float));
    a->gu = malloc(n * 2 * F * sizeof(float));
    a->scores = malloc((size_t)r->n_ctx * sizeof(double));
    if (a->x && a->xn && a->qkv && a->att && a->ff && a->gu && a->scores) return 0;
    acts_free(a);
    return -1;
}

/* One layer over the n new tokens at positions p0.. */
static void layer_forward(eng_ref *r, int l, const ref_layer *L, acts *a, int n, int p0) {
    const phi3_config *c = &r->cfg;
    int H = c->hidden, D = c->head_dim, QD = c->n_heads * D, KVD = c->n_kv_heads * D, F = c->intermediate;
    int QKV = QD + 2 * KVD;
    /* attention block: q|k|v, RoPE on q and k, cache k and v */
    for (int t = 0; t < n; t++) rmsnorm(a->x + (size_t)t * H, L->attn_norm, a->xn + (size_t)t * H, H, c->rms_eps);
    matmul(r, L->qkv, QKV, H, a->xn, n, a->qkv, QKV, 0);
    for (int t = 0; t < n; t++) {
        float *q = a->qkv + (size_t)t * QKV;
        for (int h = 0; h < c->n_heads + c->n_kv_heads; h++) rope(r, q + h * D, p0 + t);
        memcpy(r->k[l] + (size_t)(p0 + t) * KVD, q + QD, (size_t)KVD * sizeof(float));
        memcpy(r->v[l] + (size_t)(p0 + t) * KVD, q + QD + KVD, (size_t)KVD * sizeof(float));
    }
    for (int t = 0; t < n; t++) attention(r, l, a->qkv + (size_t)t * QKV, p0 + t, a->scores, a->att + (size_t)t * QD);
    matmul(r, L->o, H, QD, a->att, n, a->x, H, 1);
    /* feed-forward block */
    for (int t = 0; t < n; t++) rmsnorm(a->x + (size_t)t * H, L->ffn_norm, a->xn + (size_t)t * H, H, c->rms_eps);
    matmul(r, L->gate_up, 2 * F, H, a->xn, n, a->gu, 2 * F, 0);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < F; i++) {
            double g = a->gu[(size_t)t * 2 * F + i];
            a->ff[(size_t)t * F + i] = (float)(g / (1.0 + exp(-g)) * a->gu[(size_t)t * 2 * F + F + i]);
        }
    matmul(r, L->down, H, F, a->ff, n, a->x, H, 1);
}

/* logits [n, vocab] = lm_head(rmsnorm(x)); streamed: REF_HEAD_ROWS rows at a time. */
static int head_forward(eng_ref *r, acts *a, int n, float *logits, char *err, size_t errlen) {
    const phi3_config *c = &r->cfg;
    int H = c->hidden, V = c->vocab;
    for (int t = 0; t < n; t++) rmsnorm(a->x + (size_t)t * H, r->out_norm, a->xn + (size_t)t * H, H, c->rms_eps);
    if (!r->stream) {
        matmul(r, r->lm_head, V, H, a->xn, n, logits, V, 0);
        return 0;
    }
    for (int r0 = 0; r0 < V; r0 += REF_HEAD_ROWS) {
        int rows = V - r0 < REF_HEAD_ROWS ? V - r0 : REF_HEAD_ROWS;
        float *w = read_weight(r, PHI3_W_OUTPUT, 0, (uint64_t)r0, (uint64_t)rows, err, errlen);
        if (!w) return -1;
        matmul(r, w, rows, H, a->xn, n, logits + r0, V, 0);
        free(w);
    }
    return 0;
}

int eng_ref_forward(eng_ref *r, const int32_t *tokens, int n, float *logits, char *err, size_t errlen) {
    const phi3_config *c = &r->cfg;
    int H = c->hidden, p0 = r->n_past;
    if (n < 1 || p0 + n > r->n_ctx) {
        snprintf(err, errlen, "reference: %d + %d tokens exceed its %d positions", p0, n, r->n_ctx);
        return -1;
    }
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab) {
            snprintf(err, errlen, "reference: token %d outside the vocabulary of %d", tokens[t], c->vocab);
            return -1;
        }
    acts a;
    if (acts_alloc(r, n, &a)) {
        snprintf(err, errlen, "reference: out of host memory");
        return -1;
    }
    int rc = -1;
    for (int t = 0; t < n; t++) {
        float *row = r->stream ? read_weight(r, PHI3_W_EMBD, 0, (uint64_t)tokens[t], 1, err, errlen)
                               : r->embd + (size_t)tokens[t] * H;
        if (!row) goto done;
        memcpy(a.x + (size_t)t * H, row, (size_t)H * sizeof(float));
        if (r->stream) free(row);
    }
    for (int l = 0; l < c->n_layers; l++) {
        ref_layer *L = r->stream ? &r->layers[0] : &r->layers[l];
        if (r->stream && layer_load(r, l, L, err, errlen)) goto done;
        layer_forward(r, l, L, &a, n, p0);
        if (r->stream) layer_free(L);
    }
    if (head_forward(r, &a, n, logits, err, errlen)) goto done;
    r->n_past += n;
    rc = 0;
done:
    acts_free(&a);
    return rc;
}

int eng_ref_step(eng_ref *r, int32_t token, float *logits) {
    char err[256];
    return eng_ref_forward(r, &token, 1, logits, err, sizeof err);
}
