/* Phi-3 checkpoints (Hugging Face folder or GGUF) as one list of weights,
 * and the streaming fp16 row converter (see source.h). */
#include "model/source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/f16.h"
#include "formats/mapfile.h"
#include "formats/quant.h"

#define N_LAYER_KINDS 6 /* ATTN_NORM .. DOWN */
#define F16_MAX_BITS 0x7BFFu /* 65504 */

struct phi3_source {
    char *path;                   /* as given */
    char *dir;                    /* HF folder; NULL for GGUF */
    phi3_config cfg;
    fmt_st_model *st;            /* HF weights */
    fmt_gguf *gguf;              /* GGUF file */
    phi3_tensor *all;             /* every tensor; HF: sorted by name */
    uint64_t n_all;
    const phi3_tensor *embd, *output_norm, *output;
    const phi3_tensor **layer;    /* n_layers x N_LAYER_KINDS, kind - PHI3_W_ATTN_NORM */
    int tied;
};

/* ---- the tensor list ---- */

static void set_view(phi3_tensor *t) {
    t->cols = t->n_dims ? t->shape[t->n_dims - 1] : 1;
    t->rows = 1;
    for (int d = 0; d + 1 < t->n_dims; d++) t->rows *= t->shape[d];
}

static int list_st(phi3_source *s, char *err, size_t errlen) {
    s->n_all = fmt_st_model_count(s->st);
    if (!(s->all = calloc((size_t)(s->n_all ? s->n_all : 1), sizeof *s->all))) return fmt_file_error(err, errlen, s->path, "out of memory");
    for (uint64_t i = 0; i < s->n_all; i++) {
        const fmt_st_tensor *st = fmt_st_model_at(s->st, i);
        phi3_tensor *t = &s->all[i];
        *t = (phi3_tensor){st->name, st->file, st->dtype, st->dtype_name, st->n_dims, {0}, 0, 0, st->n_bytes, st->data};
        memcpy(t->shape, st->shape, sizeof t->shape);
        set_view(t);
    }
    return 0;
}

static int list_gguf(phi3_source *s, char *err, size_t errlen) {
    s->n_all = fmt_gguf_tensor_count(s->gguf);
    if (!(s->all = calloc((size_t)(s->n_all ? s->n_all : 1), sizeof *s->all))) return fmt_file_error(err, errlen, s->path, "out of memory");
    for (uint64_t i = 0; i < s->n_all; i++) {
        const fmt_gguf_tensor *g = fmt_gguf_tensor_at(s->gguf, i);
        phi3_tensor *t = &s->all[i];
        fmt_dtype dt = g->type == FMT_GGML_F32    ? FMT_DTYPE_F32
                        : g->type == FMT_GGML_F16  ? FMT_DTYPE_F16
                        : g->type == FMT_GGML_BF16 ? FMT_DTYPE_BF16
                                                    : FMT_DTYPE_OTHER;
        *t = (phi3_tensor){g->name, s->path, dt, fmt_ggml_type_name(g->type), (int)g->n_dims, {0}, 0, 0, g->n_bytes, g->data,
                           dt == FMT_DTYPE_OTHER ? g->type : 0};
        for (uint32_t d = 0; d < g->n_dims; d++) t->shape[d] = g->ne[g->n_dims - 1 - d];
        set_view(t);
    }
    return 0;
}

static const phi3_tensor *find(const phi3_source *s, const char *name) {
    if (s->gguf) {
        const fmt_gguf_tensor *g = fmt_gguf_find_tensor(s->gguf, name);
        return g ? &s->all[g - fmt_gguf_tensor_at(s->gguf, 0)] : NULL;
    }
    uint64_t lo = 0, hi = s->n_all; /* HF list is sorted by name */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = strcmp(s->all[mid].name, name);
        if (r == 0) return &s->all[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static void shape_str(char *buf, size_t n, const phi3_tensor *t) {
    int k = snprintf(buf, n, "[");
    for (int d = 0; d < t->n_dims && k < (int)n - 24; d++) k += snprintf(buf + k, n - (size_t)k, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
    snprintf(buf + k, n - (size_t)k, "]");
}

/* Finds name and checks its shape ([rows, cols], or [cols] when rows == 0)
 * and dtype. A missing optional tensor gives *out = NULL. */
static int expect_tensor(phi3_source *s, const char *name, uint64_t rows, uint64_t cols, int optional, const phi3_tensor **out,
                         char *err, size_t errlen) {
    char want[64], got[256];
    if (rows) snprintf(want, sizeof want, "[%llu, %llu]", (unsigned long long)rows, (unsigned long long)cols);
    else snprintf(want, sizeof want, "[%llu]", (unsigned long long)cols);
    const phi3_tensor *t = find(s, name);
    *out = t;
    if (!t) return optional ? 0 : fmt_file_error(err, errlen, s->path, "tensor %s: missing (expected %s)", name, want);
    shape_str(got, sizeof got, t);
    int ok = rows ? t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols : t->n_dims == 1 && t->shape[0] == cols;
    if (!ok) return fmt_file_error(err, errlen, t->file, "tensor %s: expected %s, got %s", name, want, got);
    return 0;
}

/* Every bound weight has a type the readers take; otherwise the first
 * that does not, its type, and how many others share the problem. */
static int check_types(const phi3_source *s, char *err, size_t errlen) {
    const phi3_tensor *first = NULL;
    int more = 0, same = 1;
    int n = 3 + s->cfg.n_layers * N_LAYER_KINDS;
    for (int i = 0; i < n; i++) {
        const phi3_tensor *t = i == 0 ? s->embd : i == 1 ? s->output_norm : i == 2 ? s->output : s->layer[i - 3];
        if (!t || phi3_tensor_type(t) != UINT32_MAX || (i == 2 && s->tied)) continue;
        if (!first) first = t;
        else more++, same &= !strcmp(t->dtype_name, first->dtype_name);
    }
    if (!first) return 0;
    char tail[96] = "";
    if (more) snprintf(tail, sizeof tail, "; %d more weight%s %s", more, more == 1 ? " is" : "s are", same ? first->dtype_name : "of unsupported types");
    return fmt_file_error(err, errlen, first->file,
                          "tensor %s: unsupported tensor type %s (phi3vk reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)%s",
                          first->name, first->dtype_name, tail);
}

/* Finds and checks every weight (names and shapes: model/tensors.h). */
static int bind_weights(phi3_source *s, int gguf, char *err, size_t errlen) {
    const phi3_config *c = &s->cfg;
    char name[128];
    uint64_t rows, cols;
    if (!(s->layer = calloc((size_t)c->n_layers * N_LAYER_KINDS, sizeof *s->layer))) return fmt_file_error(err, errlen, s->path, "out of memory");
    phi3_weight_name(PHI3_W_EMBD, 0, gguf, name, sizeof name);
    phi3_weight_shape(c, PHI3_W_EMBD, &rows, &cols);
    if (expect_tensor(s, name, rows, cols, 0, &s->embd, err, errlen)) return -1;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < N_LAYER_KINDS; k++) {
            phi3_weight_kind kind = (phi3_weight_kind)(PHI3_W_ATTN_NORM + k);
            phi3_weight_name(kind, l, gguf, name, sizeof name);
            phi3_weight_shape(c, kind, &rows, &cols);
            if (expect_tensor(s, name, rows, cols, 0, &s->layer[l * N_LAYER_KINDS + k], err, errlen)) return -1;
        }
    phi3_weight_name(PHI3_W_OUTPUT_NORM, 0, gguf, name, sizeof name);
    phi3_weight_shape(c, PHI3_W_OUTPUT_NORM, &rows, &cols);
    if (expect_tensor(s, name, rows, cols, 0, &s->output_norm, err, errlen)) return -1;
    /* GGUF: output.weight is optional; HF: required unless tied */
    int optional = s->gguf != NULL || c->tie_word_embeddings;
    phi3_weight_name(PHI3_W_OUTPUT, 0, gguf, name, sizeof name);
    phi3_weight_shape(c, PHI3_W_OUTPUT, &rows, &cols);
    if (expect_tensor(s, name, rows, cols, optional, &s->output, err, errlen)) return -1;
    if (!s->output || c->tie_word_embeddings) {
        s->output = s->embd;
        s->tied = 1;
        if (s->gguf) s->cfg.tie_word_embeddings = 1;
    }
    return check_types(s, err, errlen);
}

/* ---- GGUF config ---- */

typedef struct gkey {
    const char *key;
    int *dst;
    int required;
    int def;
} gkey;

static int gguf_config(phi3_source *s, char *err, size_t errlen) {
    fmt_gguf *g = s->gguf;
    phi3_config *c = &s->cfg;
    const char *arch;
    memset(c, 0, sizeof *c);
    if (fmt_gguf_get_str(g, "general.architecture", &arch, NULL, err, errlen)) return -1;
    if (strcmp(arch, "phi3")) return fmt_file_error(err, errlen, s->path, "key general.architecture: expected \"phi3\", found \"%.40s\"", arch);
    const fmt_gguf_tensor *te = fmt_gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims != 2 || te->ne[1] > PHI3_MAX_DIM)
        return fmt_file_error(err, errlen, s->path, "tensor token_embd.weight: missing or not 2-D (needed for the vocabulary size)");
    c->vocab = (int)te->ne[1];
    gkey keys[] = {
        {"phi3.embedding_length", &c->hidden, 1, 0},
        {"phi3.feed_forward_length", &c->intermediate, 1, 0},
        {"phi3.block_count", &c->n_layers, 1, 0},
        {"phi3.attention.head_count", &c->n_heads, 1, 0},
        {"phi3.attention.head_count_kv", &c->n_kv_heads, 0, -1},
        {"phi3.context_length", &c->max_pos, 1, 0},
        {"phi3.rope.scaling.original_context_length", &c->orig_max_pos, 0, -1},
        {"phi3.attention.sliding_window", &c->sliding_window, 0, 0},
        {"tokenizer.ggml.bos_token_id", &c->bos_id, 0, 1},
        {"tokenizer.ggml.eos_token_id", &c->eos_id, 0, 32000},
        {"tokenizer.ggml.padding_token_id", &c->pad_id, 0, 32000},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint32_t v;
        if (!keys[i].required && fmt_gguf_find_key(g, keys[i].key) < 0) {
            *keys[i].dst = keys[i].def;
            continue;
        }
        if (fmt_gguf_get_u32(g, keys[i].key, &v, err, errlen)) return -1;
        if (v > PHI3_MAX_DIM) return fmt_file_error(err, errlen, s->path, "key %s: expected at most %d, found %u", keys[i].key, PHI3_MAX_DIM, v);
        *keys[i].dst = (int)v;
    }
    if (c->n_kv_heads < 0) c->n_kv_heads = c->n_heads;
    if (c->orig_max_pos < 0) c->orig_max_pos = c->max_pos;
    int *ids[] = {&c->bos_id, &c->eos_id, &c->pad_id};
    for (int i = 0; i < 3; i++)
        if (*ids[i] >= c->vocab) *ids[i] = -1; /* defaults beyond a small vocabulary */
    float f;
    if (fmt_gguf_get_f32(g, "phi3.attention.layer_norm_rms_epsilon", &f, err, errlen)) return -1;
    c->rms_eps = f;
    c->rope_theta = 10000.0;
    if (fmt_gguf_find_key(g, "phi3.rope.freq_base") >= 0) {
        if (fmt_gguf_get_f32(g, "phi3.rope.freq_base", &f, err, errlen)) return -1;
        c->rope_theta = f;
    }
    if (c->n_heads <= 0 || c->hidden % c->n_heads)
        return fmt_file_error(err, errlen, s->path, "key phi3.attention.head_count: expected a divisor of phi3.embedding_length (%d), found %d", c->hidden, c->n_heads);
    c->head_dim = c->hidden / c->n_heads;
    /* checked here, not only in phi3_config_validate: the LongRoPE factor
     * tensors are read before validation into arrays of PHI3_MAX_HEAD_DIM / 2 */
    if (c->head_dim > PHI3_MAX_HEAD_DIM || c->head_dim % 2)
        return fmt_file_error(err, errlen, s->path,
                               "keys phi3.embedding_length / phi3.attention.head_count: head_dim = %d / %d = %d (expected even and <= %d)",
                               c->hidden, c->n_heads, c->head_dim, PHI3_MAX_HEAD_DIM);
    if (fmt_gguf_find_key(g, "phi3.rope.dimension_count") >= 0) {
        uint32_t rd;
        if (fmt_gguf_get_u32(g, "phi3.rope.dimension_count", &rd, err, errlen)) return -1;
        if ((int)rd != c->head_dim)
            return fmt_file_error(err, errlen, s->path, "key phi3.rope.dimension_count: expected head_dim = %d (partial rotary is not supported), found %u", c->head_dim, rd);
    }
    phi3_config_default_stops(c);
    if (fmt_gguf_find_key(g, PHI3_GGUF_STOP_IDS) >= 0) { /* phi3vk's own: every stop id of generation_config.json */
        fmt_gguf_arr a;
        if (fmt_gguf_get_arr(g, PHI3_GGUF_STOP_IDS, FMT_GGUF_UINT32, &a, err, errlen)) return -1;
        if (a.n < 1 || a.n > PHI3_MAX_STOP_IDS)
            return fmt_file_error(err, errlen, s->path, "key %s: expected 1 to %d ids, found %llu", PHI3_GGUF_STOP_IDS,
                                  PHI3_MAX_STOP_IDS, (unsigned long long)a.n);
        for (uint64_t i = 0; i < a.n; i++) {
            int64_t id = fmt_gguf_arr_i64(&a, i);
            if (id < 0 || id >= c->vocab)
                return fmt_file_error(err, errlen, s->path, "key %s: expected token ids in [0, %d), found %lld",
                                      PHI3_GGUF_STOP_IDS, c->vocab, (long long)id);
            c->stop_ids[i] = (int)id;
        }
        c->n_stop = (int)a.n;
    }
    uint32_t eot; /* llama.cpp writes <|end|> (32007) as the end-of-turn token */
    if (fmt_gguf_find_key(g, "tokenizer.ggml.eot_token_id") >= 0 && !fmt_gguf_get_u32(g, "tokenizer.ggml.eot_token_id", &eot, err, errlen) &&
        eot < (uint32_t)c->vocab && c->n_stop < PHI3_MAX_STOP_IDS) {
        int seen = 0;
        for (int i = 0; i < c->n_stop; i++) seen |= c->stop_ids[i] == (int)eot;
        if (!seen) c->stop_ids[c->n_stop++] = (int)eot;
    }
    return 0;
}

/* LongRoPE in GGUF: rope_factors_long/short.weight, F32 [head_dim / 2]. */
static int gguf_rope_factors(phi3_source *s, char *err, size_t errlen) {
    phi3_config *c = &s->cfg;
    const phi3_tensor *lf, *sf;
    if (expect_tensor(s, PHI3_GGUF_ROPE_LONG, 0, (uint64_t)c->head_dim / 2, 1, &lf, err, errlen) ||
        expect_tensor(s, PHI3_GGUF_ROPE_SHORT, 0, (uint64_t)c->head_dim / 2, 1, &sf, err, errlen))
        return -1;
    if (!lf && !sf) return 0;
    if (!lf || !sf || lf->dtype != FMT_DTYPE_F32 || sf->dtype != FMT_DTYPE_F32)
        return fmt_file_error(err, errlen, s->path, "tensors rope_factors_long/short.weight: expected both, as F32 [%d]", c->head_dim / 2);
    if (lf->bytes > sizeof c->long_factor || sf->bytes > sizeof c->short_factor)
        return fmt_file_error(err, errlen, s->path, "tensors rope_factors_long/short.weight: %llu / %llu bytes, more than the %zu of head_dim <= %d",
                               (unsigned long long)lf->bytes, (unsigned long long)sf->bytes, sizeof c->long_factor, PHI3_MAX_HEAD_DIM);
    memcpy(c->long_factor, lf->data, (size_t)lf->bytes);
    memcpy(c->short_factor, sf->data, (size_t)sf->bytes);
    c->rope_scaling = PHI3_ROPE_LONGROPE;
    if (fmt_gguf_find_key(s->gguf, "phi3.rope.scaling.attn_factor") >= 0) {
        float f;
        if (fmt_gguf_get_f32(s->gguf, "phi3.rope.scaling.attn_factor", &f, err, errlen)) return -1;
        c->rope_attn_factor = f;
    }
    return 0;
}

/* ---- open / close ---- */

static int open_hf(phi3_source *s, char *err, size_t errlen) {
    if (!(s->dir = strdup(s->path))) return fmt_file_error(err, errlen, s->path, "out of memory");
    if (phi3_config_load(&s->cfg, s->dir, err, errlen)) return -1;
    if (!(s->st = fmt_st_model_open(s->dir, err, errlen))) return -1;
    return list_st(s, err, errlen) || bind_weights(s, 0, err, errlen);
}

static int open_gguf(phi3_source *s, char *err, size_t errlen) {
    if (!(s->gguf = fmt_gguf_open(s->path, err, errlen))) return -1;
    if (list_gguf(s, err, errlen) || gguf_config(s, err, errlen) || gguf_rope_factors(s, err, errlen)) return -1;
    if (phi3_config_validate(&s->cfg, s->path, err, errlen)) return -1;
    return bind_weights(s, 1, err, errlen);
}

phi3_source *phi3_source_open(const char *path, char *err, size_t errlen) {
    phi3_source *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    int rc;
    if (fmt_is_dir(path)) rc = open_hf(s, err, errlen);
    else if (fmt_is_file(path)) rc = open_gguf(s, err, errlen);
    else rc = fmt_file_error(err, errlen, path, "no such file or folder (expected a Hugging Face folder or a .gguf file)");
    if (rc) {
        phi3_source_close(s);
        return NULL;
    }
    return s;
}

void phi3_source_close(phi3_source *src) {
    if (!src) return;
    free(src->layer);
    free(src->all);
    fmt_gguf_close(src->gguf);
    fmt_st_model_close(src->st);
    free(src->dir);
    free(src->path);
    free(src);
}

const phi3_config *phi3_source_config(const phi3_source *src) { return &src->cfg; }

const phi3_tensor *phi3_source_weight(const phi3_source *src, phi3_weight_kind kind, int layer) {
    switch (kind) {
    case PHI3_W_EMBD: return src->embd;
    case PHI3_W_OUTPUT_NORM: return src->output_norm;
    case PHI3_W_OUTPUT: return src->output;
    default:
        if (!phi3_weight_is_per_layer(kind) || layer < 0 || layer >= src->cfg.n_layers) return NULL;
        return src->layer[layer * N_LAYER_KINDS + (kind - PHI3_W_ATTN_NORM)];
    }
}

int phi3_source_output_is_tied(const phi3_source *src) { return src->tied; }
uint64_t phi3_source_tensor_count(const phi3_source *src) { return src->n_all; }
const phi3_tensor *phi3_source_tensor_at(const phi3_source *src, uint64_t i) { return i < src->n_all ? &src->all[i] : NULL; }
const char *phi3_source_path(const phi3_source *src) { return src->path; }
const char *phi3_source_dir(const phi3_source *src) { return src->dir; }
const fmt_gguf *phi3_source_gguf(const phi3_source *src) { return src->gguf; }

/* ---- streaming conversion ---- */

/* Counts and clamps an fp16 result h of the value x (as float). */
static inline uint16_t check_f16(uint16_t h, float x, phi3_convert_stats *st, const char *name) {
    if ((h & 0x7C00u) != 0x7C00u) return h;
    if (h & 0x3FFu) {
        st->n_nan++;
    } else {
        st->n_overflow++;
        h = (uint16_t)((h & 0x8000u) | F16_MAX_BITS);
        if (fabs((double)x) > st->max_abs) st->max_abs = fabs((double)x);
    }
    if (!st->first_name[0]) snprintf(st->first_name, sizeof st->first_name, "%s", name);
    return h;
}

/* fp16 bits of a binary32 whose magnitude lies in fp16's normal range
 * [2^-14, 65520): rebias the exponent, round to nearest even by adding
 * 0xFFF + the kept lsb. Gives the same bits as fmt_f32_to_f16 on all 2^32
 * inputs it accepts (checked exhaustively); returns 0 for the others
 * (zero, subnormal, overflow, inf, NaN), which take the full path. The
 * fast path for the common case: weights are almost all normal. */
static inline int f16_normal(uint32_t u, uint16_t *h) {
    uint32_t a = u & 0x7FFFFFFFu;
    if (a - 0x38800000u >= 0x477FF000u - 0x38800000u) return 0;
    uint32_t r = a - 0x38000000u;
    r += 0xFFFu + ((r >> 13) & 1u);
    *h = (uint16_t)(((u >> 16) & 0x8000u) | (r >> 13));
    return 1;
}

static inline uint16_t from_f32_bits(uint32_t u, phi3_convert_stats *st, const char *name) {
    uint16_t h;
    if (f16_normal(u, &h)) return h;
    float x;
    memcpy(&x, &u, 4);
    return check_f16(fmt_f32_to_f16(x), x, st, name);
}

/* One loop per dtype so the per-element work has no dtype branch. */
static void convert_row(const phi3_tensor *t, const uint8_t *src, uint64_t n, uint16_t *dst, phi3_convert_stats *st) {
    uint32_t u;
    uint16_t h;
    if (t->dtype == FMT_DTYPE_F32) {
        for (uint64_t i = 0; i < n; i++) {
            memcpy(&u, src + 4 * i, 4);
            dst[i] = from_f32_bits(u, st, t->name);
        }
    } else if (t->dtype == FMT_DTYPE_BF16) {
        for (uint64_t i = 0; i < n; i++) {
            memcpy(&h, src + 2 * i, 2);
            dst[i] = from_f32_bits((uint32_t)h << 16, st, t->name);
        }
    } else {
        /* F16: copy, then one vectorizable pass looks for inf/NaN */
        memcpy(dst, src, (size_t)n * 2);
        unsigned special = 0;
        for (uint64_t i = 0; i < n; i++) special |= (dst[i] & 0x7C00u) == 0x7C00u;
        for (uint64_t i = 0; special && i < n; i++)
            if ((dst[i] & 0x7C00u) == 0x7C00u) dst[i] = check_f16(dst[i], fmt_f16_to_f32(dst[i]), st, t->name);
    }
}

/* One call of convert_row per row, run under fmt_map_guard. */
typedef struct rows_job {
    const phi3_tensor *t;
    const uint8_t *base;
    size_t es;
    uint64_t nrows;
    uint16_t *dst;
    uint64_t dst_ld;
    phi3_convert_stats *st;
} rows_job;

static void convert_rows(void *arg) {
    const rows_job *j = arg;
    for (uint64_t r = 0; r < j->nrows; r++) {
        uint16_t *out = j->dst + r * j->dst_ld;
        convert_row(j->t, j->base + r * j->t->cols * j->es, j->t->cols, out, j->st);
        if (j->dst_ld > j->t->cols) memset(out + j->t->cols, 0, (size_t)(j->dst_ld - j->t->cols) * sizeof *out);
    }
}

uint32_t phi3_tensor_type(const phi3_tensor *t) {
    switch (t->dtype) {
    case FMT_DTYPE_F32: return FMT_GGML_F32;
    case FMT_DTYPE_F16: return FMT_GGML_F16;
    case FMT_DTYPE_BF16: return FMT_GGML_BF16;
    default: return fmt_quant_supported(t->qtype) ? t->qtype : UINT32_MAX;
    }
}

uint64_t phi3_tensor_row_bytes(const phi3_tensor *t) {
    uint32_t ty = phi3_tensor_type(t);
    return ty == UINT32_MAX ? 0 : fmt_quant_row_bytes(ty, t->cols);
}

/* The checks every row reader shares: a readable type, rows in range. */
static int rows_check(const phi3_tensor *t, uint64_t row0, uint64_t nrows, char *err, size_t errlen) {
    if (!phi3_tensor_row_bytes(t))
        return fmt_file_error(err, errlen, t->file, "tensor %s: unsupported tensor type %s (expected F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K or Q6_K)",
                              t->name, t->dtype_name);
    if (row0 > t->rows || nrows > t->rows - row0)
        return fmt_file_error(err, errlen, t->file, "tensor %s: rows [%llu, +%llu) requested, it has %llu", t->name, (unsigned long long)row0,
                              (unsigned long long)nrows, (unsigned long long)t->rows);
    return 0;
}

/* Runs job under the SIGBUS guard, then drops the pages [base, base + n)
 * read from the source's own mapping. */
static int guarded(const phi3_source *src, const phi3_tensor *t, void (*job)(void *), void *arg, const uint8_t *base, uint64_t n,
                   char *err, size_t errlen) {
    /* the file may have shrunk since it was mapped: its pages past the new
     * end fault with SIGBUS, which the guard turns into this error */
    if (fmt_map_guard(job, arg))
        return fmt_file_error(err, errlen, t->file, "tensor %s: its bytes can no longer be read (the file shrank or changed while loading)",
                              t->name);
    /* only the source's own tensors live in its read-only file mappings;
     * madvise(DONTNEED) on anyone else's memory would discard it */
    if (src && t >= src->all && t < src->all + src->n_all) fmt_map_release(base, n);
    return 0;
}

/* One stored row of t (at src) as floats. */
static void row_f32(const phi3_tensor *t, const uint8_t *src, float *dst) {
    uint16_t h;
    switch (t->dtype) {
    case FMT_DTYPE_F32: memcpy(dst, src, (size_t)t->cols * 4); break;
    case FMT_DTYPE_BF16:
        for (uint64_t i = 0; i < t->cols; i++) memcpy(&h, src + 2 * i, 2), dst[i] = fmt_bf16_to_f32(h);
        break;
    case FMT_DTYPE_F16:
        for (uint64_t i = 0; i < t->cols; i++) memcpy(&h, src + 2 * i, 2), dst[i] = fmt_f16_to_f32(h);
        break;
    default: fmt_dequantize_row(t->qtype, src, dst, t->cols); break;
    }
}

typedef struct f32_job {
    const phi3_tensor *t;
    const uint8_t *base;
    uint64_t row_bytes, nrows;
    float *dst;
} f32_job;

static void f32_rows(void *arg) {
    const f32_job *j = arg;
    for (uint64_t r = 0; r < j->nrows; r++) row_f32(j->t, j->base + r * j->row_bytes, j->dst + r * j->t->cols);
}

int phi3_source_read_rows_f32(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, float *dst,
                              char *err, size_t errlen) {
    if (rows_check(t, row0, nrows, err, errlen)) return -1;
    uint64_t rb = phi3_tensor_row_bytes(t);
    f32_job job = {t, (const uint8_t *)t->data + row0 * rb, rb, nrows, dst};
    return guarded(src, t, f32_rows, &job, job.base, nrows * rb, err, errlen);
}

typedef struct raw_job {
    const uint8_t *base;
    uint64_t n;
    void *dst;
} raw_job;

static void raw_copy(void *arg) {
    const raw_job *j = arg;
    memcpy(j->dst, j->base, (size_t)j->n);
}

int phi3_source_read_rows_raw(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, void *dst,
                              char *err, size_t errlen) {
    if (rows_check(t, row0, nrows, err, errlen)) return -1;
    uint64_t rb = phi3_tensor_row_bytes(t);
    raw_job job = {(const uint8_t *)t->data + row0 * rb, nrows * rb, dst};
    return guarded(src, t, raw_copy, &job, job.base, job.n, err, errlen);
}

/* A block-type tensor to fp16: each row dequantized, then converted as F32. */
static int quant_rows_f16(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, uint16_t *dst,
                          uint64_t dst_ld, phi3_convert_stats *st, char *err, size_t errlen) {
    float *row = malloc((size_t)t->cols * sizeof *row);
    if (!row) return fmt_file_error(err, errlen, t->file, "tensor %s: out of memory", t->name);
    for (uint64_t r = 0; r < nrows; r++) {
        uint32_t u;
        if (phi3_source_read_rows_f32(src, t, row0 + r, 1, row, err, errlen)) {
            free(row);
            return -1;
        }
        uint16_t *out = dst + r * dst_ld;
        for (uint64_t i = 0; i < t->cols; i++) memcpy(&u, &row[i], 4), out[i] = from_f32_bits(u, st, t->name);
        for (uint64_t i = t->cols; i < dst_ld; i++) out[i] = 0;
    }
    free(row);
    st->n_values += nrows * t->cols;
    return 0;
}

int phi3_source_read_rows_f16(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, uint16_t *dst,
                              uint64_t dst_ld, phi3_convert_stats *stats, char *err, size_t errlen) {
    size_t es = fmt_dtype_size(t->dtype);
    phi3_convert_stats local = {0};
    if (!es && fmt_quant_supported(t->qtype)) {
        if (rows_check(t, row0, nrows, err, errlen)) return -1;
        if (dst_ld < t->cols)
            return fmt_file_error(err, errlen, t->file, "tensor %s: destination row stride %llu is less than its %llu columns", t->name,
                                  (unsigned long long)dst_ld, (unsigned long long)t->cols);
        return quant_rows_f16(src, t, row0, nrows, dst, dst_ld, stats ? stats : &local, err, errlen);
    }
    if (!es) return fmt_file_error(err, errlen, t->file, "tensor %s: unsupported tensor type %s (expected F32, F16 or BF16)", t->name, t->dtype_name);
    if (row0 > t->rows || nrows > t->rows - row0)
        return fmt_file_error(err, errlen, t->file, "tensor %s: rows [%llu, +%llu) requested, it has %llu", t->name, (unsigned long long)row0,
                    (unsigned long long)nrows, (unsigned long long)t->rows);
    if (dst_ld < t->cols)
        return fmt_file_error(err, errlen, t->file, "tensor %s: destination row stride %llu is less than its %llu columns", t->name,
                    (unsigned long long)dst_ld, (unsigned long long)t->cols);
    phi3_convert_stats *st = stats ? stats : &local;
    const uint8_t *base = (const uint8_t *)t->data + row0 * t->cols * es;
    rows_job job = {t, base, es, nrows, dst, dst_ld, st};
    if (guarded(src, t, convert_rows, &job, base, nrows * t->cols * es, err, errlen)) return -1;
    st->n_values += nrows * t->cols;
    return 0;
}
