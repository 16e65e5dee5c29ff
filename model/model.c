/* phi3_model: open a checkpoint, stream its weights to the device as fp16,
 * find its tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "model/engine_internal.h"
#include "model/source.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_gguf.h"

#define MIB (1024.0 * 1024.0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Streams one tensor into a new weight buffer: rows are converted straight
 * from the file mapping into the staging ring, padded to ld(cols). */
static vkr_buffer *upload(phi3_model *m, const phi3_source *src, phi3_weight_kind kind, int layer,
                          phi3_convert_stats *stats, char *err, size_t errlen) {
    const phi3_tensor *t = phi3_source_weight(src, kind, layer);
    if (!t) {
        snprintf(err, errlen, "%s", "internal: weight missing after validation");
        return NULL;
    }
    uint64_t ld = vkr_ld((uint32_t)t->cols), row_bytes = ld * 2;
    vkr_buffer *b = vkr_buffer_create(m->vk, t->name, t->rows * row_bytes, VKR_BUF_WEIGHT);
    if (!b) {
        snprintf(err, errlen, "%s", vkr_ctx_error(m->vk));
        return NULL;
    }
    uint64_t chunk_rows = vkr_staging_chunk(m->vk) / row_bytes;
    if (chunk_rows == 0) chunk_rows = 1;
    for (uint64_t r = 0; r < t->rows; r += chunk_rows) {
        uint64_t n = t->rows - r < chunk_rows ? t->rows - r : chunk_rows;
        uint16_t *dst = vkr_staging_reserve(m->vk, b, r * row_bytes, n * row_bytes);
        if (!dst) {
            snprintf(err, errlen, "%s", vkr_ctx_error(m->vk));
            goto fail;
        }
        if (phi3_source_read_rows_f16(src, t, r, n, dst, ld, stats, err, errlen)) goto fail;
    }
    m->weight_bytes += t->rows * row_bytes;
    m->params += t->rows * t->cols;
    return b;
fail:
    vkr_staging_flush(m->vk);
    vkr_buffer_destroy(m->vk, b);
    return NULL;
}

static int upload_all(phi3_model *m, const phi3_source *src, char *err, size_t errlen) {
    phi3_convert_stats st = {0};
    double t0 = now_s();
    if (!(m->embd = upload(m, src, PHI3_W_EMBD, 0, &st, err, errlen))) return -1;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        phi3_dev_layer *L = &m->layers[l];
        if (!(L->attn_norm = upload(m, src, PHI3_W_ATTN_NORM, l, &st, err, errlen)) ||
            !(L->qkv = upload(m, src, PHI3_W_QKV, l, &st, err, errlen)) ||
            !(L->o = upload(m, src, PHI3_W_O, l, &st, err, errlen)) ||
            !(L->ffn_norm = upload(m, src, PHI3_W_FFN_NORM, l, &st, err, errlen)) ||
            !(L->gate_up = upload(m, src, PHI3_W_GATE_UP, l, &st, err, errlen)) ||
            !(L->down = upload(m, src, PHI3_W_DOWN, l, &st, err, errlen)))
            return -1;
        if (m->verbose)
            fprintf(stderr, "\rphi3vk: loading layer %d/%d (%.0f MiB)", l + 1, m->cfg.n_layers, m->weight_bytes / MIB);
    }
    if (!(m->out_norm = upload(m, src, PHI3_W_OUTPUT_NORM, 0, &st, err, errlen))) return -1;
    if (phi3_source_output_is_tied(src)) {
        m->lm_head = m->embd; /* tied embeddings */
    } else if (!(m->lm_head = upload(m, src, PHI3_W_OUTPUT, 0, &st, err, errlen))) {
        return -1;
    }
    if (vkr_staging_flush(m->vk)) {
        snprintf(err, errlen, "%s", vkr_ctx_error(m->vk));
        return -1;
    }
    double dt = now_s() - t0;
    if (m->verbose)
        fprintf(stderr, "\rphi3vk: loaded %.1f MiB of fp16 weights in %.2f s (%.2f GB/s)\n", m->weight_bytes / MIB,
                dt, m->weight_bytes / dt / 1e9);
    if (st.n_overflow)
        fprintf(stderr, "phi3vk: warning: %llu weight values exceed fp16's range and were clamped to +-65504 "
                        "(first in %s, max |x| = %g)\n",
                (unsigned long long)st.n_overflow, st.first_name, st.max_abs);
    return 0;
}

/* Bytes the fp16 weights of the first n_layers layers take on the device. */
static uint64_t f16_bytes(const phi3_source *src, int n_layers) {
    static const phi3_weight_kind per_layer[] = {PHI3_W_ATTN_NORM, PHI3_W_QKV, PHI3_W_O,
                                                 PHI3_W_FFN_NORM, PHI3_W_GATE_UP, PHI3_W_DOWN};
    uint64_t sum = 0;
    const phi3_tensor *t;
    for (int l = 0; l < n_layers; l++)
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
            if ((t = phi3_source_weight(src, per_layer[i], l))) sum += t->rows * vkr_ld((uint32_t)t->cols) * 2;
    const phi3_tensor *e = phi3_source_weight(src, PHI3_W_EMBD, 0), *o = phi3_source_weight(src, PHI3_W_OUTPUT, 0);
    if (e) sum += e->rows * vkr_ld((uint32_t)e->cols) * 2;
    if (o && o != e) sum += o->rows * vkr_ld((uint32_t)o->cols) * 2;
    return sum;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int find_tokenizer(phi3_model *m, const char *path, const phi3_source *src, const char *override, char *err,
                          size_t errlen) {
    char tp[4200];
    if (override && *override) {
        m->tok = tok_load_path(override, err, errlen);
        return m->tok ? 0 : -1;
    }
    if (phi3_source_gguf(src) && phi3_gguf_find_key(phi3_source_gguf(src), "tokenizer.ggml.model") >= 0) {
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

phi3_model *phi3_model_open(const char *path, const phi3_model_opts *opts, char *err, size_t errlen) {
    phi3_model_opts o = opts ? *opts : (phi3_model_opts){0};
    phi3_model *m = calloc(1, sizeof *m);
    phi3_source *src = NULL;
    if (!m) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    m->verbose = o.verbose;
    src = phi3_source_open(path, err, errlen);
    if (!src) goto fail;
    m->cfg = *phi3_source_config(src);
    if (o.max_layers > 0 && o.max_layers < m->cfg.n_layers) m->cfg.n_layers = o.max_layers;
    if (o.vk) {
        m->vk = o.vk;
    } else {
        vkr_ctx_opts vo = {.device = o.device, .validate = o.validate, .verbose = o.verbose, .profile = o.profile,
                           .cache_dir = o.cache_dir};
        if (!(m->vk = vkr_ctx_create(&vo, err, errlen))) goto fail;
        m->own_vk = 1;
    }
    const vkr_device_info *dev = vkr_ctx_device(m->vk);
    uint64_t need = f16_bytes(src, m->cfg.n_layers);
    if (need > dev->device_local_bytes) {
        if (!dev->is_cpu) {
            snprintf(err, errlen, "too little device memory: the fp16 weights need %.0f MiB, %s has %.0f MiB "
                     "(try --layers for a partial model, or a smaller model)", need / MIB, dev->name,
                     dev->device_local_bytes / MIB);
            goto fail;
        }
        /* CPU drivers report a nominal heap; system memory is the real limit. */
        if (o.verbose)
            fprintf(stderr, "phi3vk: %.0f MiB of weights exceed %s's nominal heap (%.0f MiB); continuing on a CPU "
                            "device\n", need / MIB, dev->name, dev->device_local_bytes / MIB);
    }
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) {
        snprintf(err, errlen, "out of host memory");
        goto fail;
    }
    if (upload_all(m, src, err, errlen)) goto fail;
    if (find_tokenizer(m, path, src, o.tokenizer, err, errlen)) goto fail;
    phi3_source_close(src);
    return m;
fail:
    phi3_source_close(src);
    phi3_model_close(m);
    return NULL;
}

void phi3_model_close(phi3_model *m) {
    if (!m) return;
    if (m->vk) {
        for (int l = 0; m->layers && l < m->cfg.n_layers; l++) {
            phi3_dev_layer *L = &m->layers[l];
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

const phi3_config *phi3_model_config(const phi3_model *m) { return &m->cfg; }
const tok_tokenizer *phi3_model_tokenizer(const phi3_model *m) { return m->tok; }
vkr_ctx *phi3_model_vk(phi3_model *m) { return m->vk; }
uint64_t phi3_model_weight_bytes(const phi3_model *m) { return m->weight_bytes; }
uint64_t phi3_model_params(const phi3_model *m) { return m->params; }
