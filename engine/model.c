/* eng_model: open a checkpoint, stream its weights to the device (fp16, or
 * ggml block types as stored or quantized while loading), find its
 * tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "formats/f16.h"
#include "formats/quant.h"
#include "model/source.h"
#include "model/synth.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_gguf.h"
#include "util/par.h"
#include "util/time.h"

#define MIB (1024.0 * 1024.0)


/* Where weights come from: a checkpoint file, or a seeded synthetic model
 * (model/synth.h values, identical to what `phi3vk synth` writes). */
typedef struct weight_reader {
    const phi3_source *src;        /* file source, or NULL */
    const phi3_synth_opts *synth;  /* synthetic weights when src is NULL */
    phi3_quant quant;              /* --weights: NONE keeps the stored types (float -> fp16) */
    int n_layers, tied;            /* of the whole checkpoint (the Q4_K_M layer rule) */
    float *tmp;                    /* one chunk of f32 values */
    uint64_t tmp_len;
    uint8_t *blk;                  /* one chunk of rows in ggml blocks */
    uint64_t blk_len;
    phi3_convert_stats stats;
} weight_reader;

/* Grows *buf to at least n bytes. */
static int reserve(void **buf, uint64_t *len, uint64_t n, char *err, size_t errlen) {
    if (*len >= n) return 0;
    free(*buf);
    *len = 0;
    if (!(*buf = malloc((size_t)n))) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    *len = n;
    return 0;
}

/* The ggml type a weight is stored in on the device: fp16 norms; matrices
 * as the scheme says, or (no --weights) as the file stores them, float
 * types as fp16. */
uint32_t eng_weight_dtype(const phi3_source *src, phi3_quant q, int n_layers, int tied, phi3_weight_kind k, int layer,
                          uint64_t rows, uint64_t cols) {
    if (rows <= 1 && (k == PHI3_W_ATTN_NORM || k == PHI3_W_FFN_NORM || k == PHI3_W_OUTPUT_NORM)) return FMT_GGML_F16;
    if (q == PHI3_QUANT_NONE) {
        uint32_t st = src ? phi3_tensor_type(phi3_source_weight(src, k, layer)) : FMT_GGML_F32;
        return fmt_quant_supported(st) ? st : FMT_GGML_F16;
    }
    int output = k == PHI3_W_OUTPUT || (k == PHI3_W_EMBD && tied);
    return phi3_quant_type(q, k, layer, n_layers, cols, output);
}

static uint32_t weight_dtype(const weight_reader *r, phi3_weight_kind k, int layer, uint64_t rows, uint64_t cols) {
    return eng_weight_dtype(r->src, r->quant, r->n_layers, r->tied, k, layer, rows, cols);
}

/* rows x cols of a weight (1-D: 1 x cols); name is set for messages and
 * debug names. */
static void weight_shape(const weight_reader *r, const phi3_config *c, phi3_weight_kind k, int layer, uint64_t *rows,
                         uint64_t *cols, char *name, size_t len) {
    if (r->src) {
        const phi3_tensor *t = phi3_source_weight(r->src, k, layer);
        *rows = t->rows, *cols = t->cols;
        snprintf(name, len, "%s", t->name);
        return;
    }
    phi3_weight_shape(c, k, rows, cols);
    if (!*rows) *rows = 1;
    phi3_weight_name(k, layer, 1, name, len);
}

/* Rows [row0, row0 + n) as float32 into r->tmp. */
static int read_f32(weight_reader *r, phi3_weight_kind k, int layer, uint64_t row0, uint64_t n, uint64_t cols, char *err,
                    size_t errlen) {
    uint64_t bytes = n * cols * sizeof *r->tmp, len = r->tmp_len * sizeof *r->tmp;
    if (reserve((void **)&r->tmp, &len, bytes, err, errlen)) return -1;
    r->tmp_len = len / sizeof *r->tmp;
    if (r->src) return phi3_source_read_rows_f32(r->src, phi3_source_weight(r->src, k, layer), row0, n, r->tmp, err, errlen);
    phi3_synth_values(r->synth, k, layer, row0 * cols, n * cols, r->tmp);
    return 0;
}

/* Rows [row0, row0 + n) of a weight, in the device layout of dt, at dst. */
static int read_rows(weight_reader *r, phi3_weight_kind k, int layer, uint32_t dt, uint64_t row0, uint64_t n,
                     uint64_t cols, void *dst, char *err, size_t errlen) {
    const phi3_tensor *t = r->src ? phi3_source_weight(r->src, k, layer) : NULL;
    if (dt == FMT_GGML_F16) {
        uint64_t ld = kern_ld((uint32_t)cols);
        if (t) return phi3_source_read_rows_f16(r->src, t, row0, n, dst, ld, &r->stats, err, errlen);
        if (read_f32(r, k, layer, row0, n, cols, err, errlen)) return -1;
        uint16_t *h = dst;
        for (uint64_t i = 0; i < n; i++) {
            for (uint64_t j = 0; j < cols; j++) h[i * ld + j] = fmt_f32_to_f16(r->tmp[i * cols + j]);
            for (uint64_t j = cols; j < ld; j++) h[i * ld + j] = 0;
        }
        return 0;
    }
    /* a block type: the file's own blocks, or float rows quantized here */
    uint64_t rb = fmt_quant_row_bytes(dt, cols);
    if (reserve((void **)&r->blk, &r->blk_len, n * rb, err, errlen)) return -1;
    if (t && phi3_tensor_type(t) == dt) {
        if (phi3_source_read_rows_raw(r->src, t, row0, n, r->blk, err, errlen)) return -1;
    } else {
        if (read_f32(r, k, layer, row0, n, cols, err, errlen)) return -1;
        for (uint64_t i = 0; i < n; i++) fmt_quantize_row(dt, r->tmp + i * cols, r->blk + i * rb, cols);
    }
    if (kern_weight_pack(dt, r->blk, dst, (uint32_t)n, (uint32_t)cols))
        return snprintf(err, errlen, "%s: no device layout for type %s with %llu columns", phi3_weight_kind_name(k),
                        fmt_ggml_type_name(dt), (unsigned long long)cols), -1;
    return 0;
}

/* Adds the counts of one lane's conversion to *to and clears them. Lanes
 * are merged in row order, so first_name stays the first tensor in the
 * file with a clamped or NaN value. */
static void stats_merge(phi3_convert_stats *to, phi3_convert_stats *from) {
    to->n_values += from->n_values;
    to->n_overflow += from->n_overflow;
    to->n_nan += from->n_nan;
    if (from->max_abs > to->max_abs) to->max_abs = from->max_abs;
    if (!to->first_name[0] && from->first_name[0]) memcpy(to->first_name, from->first_name, sizeof to->first_name);
    *from = (phi3_convert_stats){0};
}

/* Rows [row0, row0 + n) of one weight, split into parts of consecutive
 * rows, each converted by its own lane (reader) on its own thread. */
typedef struct chunk_job {
    weight_reader *lanes;
    phi3_weight_kind kind;
    int layer;
    uint32_t dt;
    uint64_t row0, cols, row_bytes;
    uint8_t *dst;
} chunk_job;

static void chunk_part(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    const chunk_job *j = ctx;
    if (read_rows(&j->lanes[part], j->kind, j->layer, j->dt, j->row0 + lo, hi - lo, j->cols, j->dst + lo * j->row_bytes, err,
              errlen) && !err[0])
        snprintf(err, errlen, "converting rows [%llu, %llu) failed", (unsigned long long)(j->row0 + lo),
                 (unsigned long long)(j->row0 + hi));
}

/* Values below which a part is not worth a thread. */
#define PART_MIN_VALUES (1u << 16)

/* read_rows for rows [row0, row0 + n) on up to n_lanes threads (lanes[0]
 * is the reader whose stats collect every lane's). */
static int read_rows_par(weight_reader *lanes, int n_lanes, phi3_weight_kind kind, int layer, uint32_t dt, uint64_t row0,
                         uint64_t n, uint64_t cols, uint64_t row_bytes, void *dst, char *err, size_t errlen) {
    uint64_t fit = n * cols / PART_MIN_VALUES;
    int parts = fit < (uint64_t)n_lanes ? (int)fit : n_lanes;
    if (parts <= 1) return read_rows(&lanes[0], kind, layer, dt, row0, n, cols, dst, err, errlen);
    chunk_job j = {.lanes = lanes, .kind = kind, .layer = layer, .dt = dt, .row0 = row0, .cols = cols,
                   .row_bytes = row_bytes, .dst = dst};
    int rc = util_par_ranges(parts, n, chunk_part, &j, err, errlen);
    for (int i = 1; i < parts; i++) stats_merge(&lanes[0].stats, &lanes[i].stats);
    return rc;
}

/* Streams one weight into a new weight tensor: rows are converted straight
 * from the file mapping (or generator) into the staging ring, in the device
 * layout of its dtype (fp16 rows padded to ld(cols), or repacked blocks),
 * each chunk by every lane of rd (rd[0] .. rd[m->load_threads - 1]). */
static vkr_buffer *upload(eng_model *m, weight_reader *rd, phi3_weight_kind kind, int layer, char *err,
                          size_t errlen) {
    uint64_t rows, cols;
    char name[160];
    weight_shape(rd, &m->cfg, kind, layer, &rows, &cols, name, sizeof name);
    uint32_t dt = weight_dtype(rd, kind, layer, rows, cols);
    uint64_t row_bytes = kern_weight_row_bytes(dt, (uint32_t)cols);
    vkr_buffer *b = kern_weight_create(m->vk, name, dt, (uint32_t)rows, (uint32_t)cols);
    if (!b) {
        vkr_ctx_error_to(m->vk, err, errlen);
        return NULL;
    }
    uint64_t chunk_rows = vkr_staging_chunk(m->vk) / row_bytes;
    if (chunk_rows == 0) chunk_rows = 1;
    for (uint64_t r = 0; r < rows; r += chunk_rows) {
        uint64_t n = rows - r < chunk_rows ? rows - r : chunk_rows;
        void *dst = vkr_staging_reserve(m->vk, b, r * row_bytes, n * row_bytes);
        if (!dst) {
            vkr_ctx_error_to(m->vk, err, errlen);
            goto fail;
        }
        if (read_rows_par(rd, m->load_threads, kind, layer, dt, r, n, cols, row_bytes, dst, err, errlen)) goto fail;
    }
    m->weight_bytes += rows * row_bytes;
    m->params += rows * cols;
    if (rows > 1) eng_type_count(m, dt, rows * cols);
    return b;
fail:
    vkr_staging_flush(m->vk);
    vkr_buffer_destroy(m->vk, b);
    return NULL;
}

static int upload_all(eng_model *m, weight_reader *rd, int tied, uint64_t total, char *err, size_t errlen) {
    double t0 = util_now_s();
    if (!(m->embd = upload(m, rd, PHI3_W_EMBD, 0, err, errlen))) return -1;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        eng_dev_layer *L = &m->layers[l];
        if (!(L->attn_norm = upload(m, rd, PHI3_W_ATTN_NORM, l, err, errlen)) ||
            !(L->qkv = upload(m, rd, PHI3_W_QKV, l, err, errlen)) ||
            !(L->o = upload(m, rd, PHI3_W_O, l, err, errlen)) ||
            !(L->ffn_norm = upload(m, rd, PHI3_W_FFN_NORM, l, err, errlen)) ||
            !(L->gate_up = upload(m, rd, PHI3_W_GATE_UP, l, err, errlen)) ||
            !(L->down = upload(m, rd, PHI3_W_DOWN, l, err, errlen)))
            return -1;
        if (m->progress) m->progress(m->progress_user, m->weight_bytes, total);
    }
    if (!(m->out_norm = upload(m, rd, PHI3_W_OUTPUT_NORM, 0, err, errlen))) return -1;
    if (tied) {
        m->lm_head = m->embd; /* tied embeddings */
    } else if (!(m->lm_head = upload(m, rd, PHI3_W_OUTPUT, 0, err, errlen))) {
        return -1;
    }
    if (vkr_staging_flush(m->vk)) {
        vkr_ctx_error_to(m->vk, err, errlen);
        return -1;
    }
    double dt = util_now_s() - t0;
    if (m->progress) m->progress(m->progress_user, total, total);
    if (m->verbose)
        fprintf(stderr, "phi3vk: loaded %.1f MiB of weights (%s, %.3f bytes per weight) in %.2f s (%.2f GB/s, %d thread%s)\n",
                m->weight_bytes / MIB, eng_model_weight_types(m), eng_model_bytes_per_weight(m), dt,
                m->weight_bytes / dt / 1e9, m->load_threads, m->load_threads == 1 ? "" : "s");
    const phi3_convert_stats *st = &rd->stats;
    if (st->n_overflow || st->n_nan)
        fprintf(stderr, "phi3vk: warning: %llu weight values exceed fp16's range and were clamped to +-65504, "
                        "%llu are NaN (first in %s, max |x| = %g)\n",
                (unsigned long long)st->n_overflow, (unsigned long long)st->n_nan, st->first_name, st->max_abs);
    return 0;
}

/* Bytes the weights take on the device, each in its dtype's layout. */
static uint64_t device_bytes(const weight_reader *rd, const phi3_config *c, int tied) {
    uint64_t sum = 0, rows, cols;
    char name[160];
    for (int k = 0; k < PHI3_W_KIND_COUNT; k++)
        for (int l = 0; l < (phi3_weight_is_per_layer((phi3_weight_kind)k) ? c->n_layers : 1); l++) {
            if (k == PHI3_W_OUTPUT && tied) continue;
            weight_shape(rd, c, (phi3_weight_kind)k, l, &rows, &cols, name, sizeof name);
            sum += rows * kern_weight_row_bytes(weight_dtype(rd, (phi3_weight_kind)k, l, rows, cols), (uint32_t)cols);
        }
    return sum;
}

uint64_t eng_weights_device_bytes(const phi3_config *cfg, int tied, phi3_quant q) {
    weight_reader rd = {.quant = q, .n_layers = cfg->n_layers, .tied = tied};
    return device_bytes(&rd, cfg, tied);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int find_tokenizer(eng_model *m, const char *path, const phi3_source *src, const char *override, char *err,
                          size_t errlen) {
    char tp[4200];
    if (override && *override) {
        m->tok = tok_load_path(override, err, errlen);
        return m->tok ? 0 : -1;
    }
    if (phi3_source_gguf(src) && fmt_gguf_find_key(phi3_source_gguf(src), "tokenizer.ggml.model") >= 0) {
        m->tok = tok_load_gguf(phi3_source_gguf(src), err, errlen);
        return m->tok ? 0 : -1;
    }
    snprintf(tp, sizeof tp, "%s/tokenizer.json", path);
    struct stat st;
    if (is_dir(path) && stat(tp, &st) == 0) {
        m->tok = tok_load_json(tp, err, errlen);
        return m->tok ? 0 : -1;
    }
    return 0; /* none: the model runs on ids; commands that need text ask for --tokenizer */
}

/* The part of opening shared by files and synthetic models: the runtime,
 * the memory check and the upload. m->cfg is set. */
static int model_load(eng_model *m, const eng_model_opts *o, weight_reader *rd, int tied, char *err,
                      size_t errlen) {
    if (o->max_layers > 0 && o->max_layers < m->cfg.n_layers) m->cfg.n_layers = o->max_layers;
    if (o->vk) {
        m->vk = o->vk;
        m->own_vk = o->take_vk;
    } else {
        vkr_ctx_opts vo = {.device = o->device, .validate = o->validate, .verbose = o->verbose,
                           .profile = o->profile, .cache_dir = o->cache_dir, .device_profile = o->device_profile};
        if (!(m->vk = vkr_ctx_create(&vo, err, errlen))) return -1;
        m->own_vk = 1;
    }
    const vkr_device_info *dev = vkr_ctx_device(m->vk);
    rd->quant = o->weights;
    rd->tied = tied;
    uint64_t need = device_bytes(rd, &m->cfg, tied);
    if (need > dev->device_local_bytes) {
        if (!vkr_ctx_profile(m->vk)->cpu) {
            snprintf(err, errlen, "too little device memory: the weights need %.0f MiB, %s has %.0f MiB "
                     "(try --weights q4_k or q8_0, --layers for a partial model, or a smaller model)", need / MIB, dev->name,
                     dev->device_local_bytes / MIB);
            return -1;
        }
        /* CPU drivers report a nominal heap; system memory is the real limit. */
        if (o->verbose)
            fprintf(stderr, "phi3vk: %.0f MiB of weights exceed %s's nominal heap (%.0f MiB); continuing on a CPU "
                            "device\n", need / MIB, dev->name, dev->device_local_bytes / MIB);
    }
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    m->progress = o->progress;
    m->progress_user = o->progress_user;
    /* one reader per loading thread: the same source, their own scratch */
    m->load_threads = o->load_threads > 0 ? o->load_threads : util_cpu_count();
    if (m->load_threads > ENG_LOAD_THREADS_MAX) m->load_threads = ENG_LOAD_THREADS_MAX;
    weight_reader lanes[ENG_LOAD_THREADS_MAX];
    for (int i = 0; i < m->load_threads; i++) lanes[i] = *rd;
    vkr_weights_expect(m->vk, need);
    int rc = upload_all(m, lanes, tied, need, err, errlen);
    vkr_weights_expect(m->vk, 0);
    m->load_stats = lanes[0].stats;
    for (int i = 0; i < m->load_threads; i++) free(lanes[i].tmp), free(lanes[i].blk);
    return rc;
}

eng_model *eng_model_open(const char *path, const eng_model_opts *opts, char *err, size_t errlen) {
    eng_model_opts o = opts ? *opts : (eng_model_opts){0};
    eng_model *m = calloc(1, sizeof *m);
    phi3_source *src = NULL;
    if (!m) {
        snprintf(err, errlen, "out of host memory");
        if (o.take_vk) vkr_ctx_destroy(o.vk);
        return NULL;
    }
    m->vk = o.vk; /* owned from here on with take_vk, failure or not */
    m->own_vk = o.vk && o.take_vk;
    m->verbose = o.verbose;
    src = phi3_source_open(path, err, errlen);
    if (!src) goto fail;
    m->cfg = *phi3_source_config(src);
    weight_reader rd = {.src = src, .n_layers = m->cfg.n_layers};
    if (model_load(m, &o, &rd, phi3_source_output_is_tied(src), err, errlen)) goto fail;
    if (find_tokenizer(m, path, src, o.tokenizer, err, errlen)) goto fail;
    phi3_source_close(src);
    return m;
fail:
    phi3_source_close(src);
    eng_model_close(m);
    return NULL;
}

eng_model *eng_model_synthetic(const phi3_synth_opts *synth, const eng_model_opts *opts, char *err,
                                 size_t errlen) {
    eng_model_opts o = opts ? *opts : (eng_model_opts){0};
    eng_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of host memory");
        if (o.take_vk) vkr_ctx_destroy(o.vk);
        return NULL;
    }
    m->vk = o.vk;
    m->own_vk = o.vk && o.take_vk;
    m->verbose = o.verbose;
    m->cfg = synth->cfg;
    if (phi3_config_validate(&m->cfg, "synthetic model", err, errlen)) goto fail;
    weight_reader rd = {.synth = synth, .n_layers = m->cfg.n_layers};
    if (model_load(m, &o, &rd, m->cfg.tie_word_embeddings, err, errlen)) goto fail;
    if (o.tokenizer && *o.tokenizer && !(m->tok = tok_load_path(o.tokenizer, err, errlen))) goto fail;
    return m;
fail:
    eng_model_close(m);
    return NULL;
}

void eng_model_close(eng_model *m) {
    if (!m) return;
    if (m->vk) {
        for (int l = 0; m->layers && l < m->cfg.n_layers; l++) {
            eng_dev_layer *L = &m->layers[l];
            vkr_buffer *all[] = {L->attn_norm, L->qkv, L->o, L->ffn_norm, L->gate_up, L->down};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(m->vk, all[i]);
        }
        if (m->lm_head != m->embd) vkr_buffer_destroy(m->vk, m->lm_head);
        vkr_buffer_destroy(m->vk, m->embd);
        vkr_buffer_destroy(m->vk, m->out_norm);
        if (m->own_vk) vkr_ctx_destroy(m->vk);
    }
    tok_destroy(m->tok);
    free(m->layers);
    free(m);
}

const phi3_config *eng_model_config(const eng_model *m) { return &m->cfg; }
const tok_tokenizer *eng_model_tokenizer(const eng_model *m) { return m->tok; }
vkr_ctx *eng_model_vk(eng_model *m) { return m->vk; }
uint64_t eng_model_weight_bytes(const eng_model *m) { return m->weight_bytes; }
uint64_t eng_model_params(const eng_model *m) { return m->params; }
int eng_model_load_threads(const eng_model *m) { return m->load_threads; }
const phi3_convert_stats *eng_model_load_stats(const eng_model *m) { return &m->load_stats; }
double eng_model_bytes_per_weight(const eng_model *m) { return m->params ? (double)m->weight_bytes / (double)m->params : 0; }

/* Counts the matrix values stored as dt (for eng_model_weight_types). */
void eng_type_count(eng_model *m, uint32_t dt, uint64_t values) {
    for (int i = 0; i < ENG_MAX_TYPES; i++) {
        if (m->type_values[i] && m->types[i] != dt) continue;
        m->types[i] = dt;
        m->type_values[i] += values;
        break;
    }
    /* the summary: the main type, then the others by share */
    char *s = m->type_summary;
    size_t n = sizeof m->type_summary, k = 0;
    uint64_t total = 0;
    int order[ENG_MAX_TYPES], cnt = 0;
    for (int i = 0; i < ENG_MAX_TYPES && m->type_values[i]; i++) total += m->type_values[i], order[cnt++] = i;
    for (int a = 1; a < cnt; a++)
        for (int b = a; b > 0 && m->type_values[order[b]] > m->type_values[order[b - 1]]; b--) {
            int x = order[b];
            order[b] = order[b - 1], order[b - 1] = x;
        }
    s[0] = 0;
    for (int i = 0; i < cnt && k < n; i++) {
        const char *name = fmt_ggml_type_name(m->types[order[i]]);
        if (cnt == 1) k += (size_t)snprintf(s + k, n - k, "%s", name);
        else k += (size_t)snprintf(s + k, n - k, "%s%s %.0f%%", i ? ", " : "", name, 100.0 * m->type_values[order[i]] / total);
    }
}

const char *eng_model_weight_types(const eng_model *m) { return m->type_summary[0] ? m->type_summary : "F16"; }
