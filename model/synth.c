/* Random-weight Phi-3 checkpoint writer (see synth.h). */
#include "model/synth.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/convert.h"
#include "formats/f16.h"
#include "formats/mapfile.h"
#include "formats/gguf_write.h"
#include "formats/quant.h"
#include "tokenizer/tok.h"
#include "util/par.h"

#define CHUNK (1u << 20) /* elements generated per step */

int phi3_synth_preset(phi3_config *cfg, const char *name, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    if (!strcmp(name, "tiny")) {
        cfg->hidden = 128, cfg->intermediate = 256, cfg->n_layers = 2, cfg->n_heads = 4, cfg->n_kv_heads = 4;
    } else if (!strcmp(name, "phi3-mini")) {
        cfg->hidden = 3072, cfg->intermediate = 8192, cfg->n_layers = 32, cfg->n_heads = 32, cfg->n_kv_heads = 32;
    } else {
        return fmt_file_error(err, errlen, "synth", "unknown preset \"%s\" (expected tiny or phi3-mini)", name);
    }
    cfg->head_dim = cfg->hidden / cfg->n_heads;
    cfg->vocab = 32064;
    cfg->rms_eps = 1e-5;
    cfg->rope_theta = 10000.0;
    cfg->max_pos = cfg->orig_max_pos = 4096;
    cfg->sliding_window = 2047;
    cfg->bos_id = 1, cfg->eos_id = 32000, cfg->pad_id = 32000;
    cfg->n_stop = 3, cfg->stop_ids[0] = 32000, cfg->stop_ids[1] = 32001, cfg->stop_ids[2] = 32007;
    cfg->rope_attn_factor = 1.0;
    return 0;
}

void phi3_synth_defaults(phi3_synth_opts *o) {
    memset(o, 0, sizeof *o);
    phi3_synth_preset(&o->cfg, "tiny", NULL, 0);
    o->dtype = FMT_DTYPE_F32;
    o->shards = 1;
    o->seed = 1;
    o->std = 0.06f;
    o->embd_std = 1.0f;
}

void phi3_synth_longrope(phi3_config *cfg, int orig_ctx) {
    int half = cfg->hidden / cfg->n_heads / 2;
    cfg->rope_scaling = PHI3_ROPE_LONGROPE;
    cfg->orig_max_pos = orig_ctx;
    cfg->rope_attn_factor = 0; /* derived by validate */
    for (int i = 0; i < half && i < PHI3_MAX_HEAD_DIM / 2; i++) {
        float t = half > 1 ? (float)i / (float)(half - 1) : 0.0f;
        cfg->short_factor[i] = 1.0f + 0.05f * t;
        cfg->long_factor[i] = 1.0f + 3.0f * t;
    }
}

/* ---- values ---- */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int is_norm(phi3_weight_kind k) { return k == PHI3_W_ATTN_NORM || k == PHI3_W_FFN_NORM || k == PHI3_W_OUTPUT_NORM; }

void phi3_synth_values(const phi3_synth_opts *o, phi3_weight_kind kind, int layer, uint64_t first, uint64_t n, float *out) {
    if (kind == PHI3_W_OUTPUT && o->cfg.tie_word_embeddings) kind = PHI3_W_EMBD;
    if (!phi3_weight_is_per_layer(kind)) layer = 0;
    uint64_t key = splitmix64(o->seed ^ splitmix64(((uint64_t)kind << 32) | (uint32_t)layer));
    double scale = kind == PHI3_W_EMBD || kind == PHI3_W_OUTPUT ? o->embd_std : is_norm(kind) ? 0.1 : o->std;
    double offset = is_norm(kind) ? 1.0 : 0.0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(key + first + i);
        /* Irwin-Hall(4): mean 2, variance 4/12; scaled to unit variance */
        double s = (double)(r & 0xFFFF) + (double)((r >> 16) & 0xFFFF) + (double)((r >> 32) & 0xFFFF) + (double)(r >> 48);
        double noise = (s / 65536.0 - 2.0) * 1.7320508075688772;
        out[i] = (float)(offset + scale * noise);
    }
}

uint16_t phi3_synth_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* ---- the tensor plan ---- */

typedef struct plan_t {
    char name[96];
    phi3_weight_kind kind;
    int layer;
    uint64_t rows, cols;    /* rows 0: 1-D of cols elements */
    fmt_dtype dtype;
    uint32_t qtype;         /* GGUF block type of a quantized matrix; 0: dtype */
    const float *fixed;     /* LongRoPE factors: constant data instead of noise */
    uint64_t bytes;
    int shard;
} plan_t;

static void plan_add(plan_t *p, int *n, const phi3_synth_opts *o, phi3_weight_kind kind, int layer) {
    plan_t *t = &p[(*n)++];
    memset(t, 0, sizeof *t);
    phi3_weight_name(kind, layer, o->gguf, t->name, sizeof t->name);
    phi3_weight_shape(&o->cfg, kind, &t->rows, &t->cols);
    t->kind = kind, t->layer = layer;
    t->dtype = o->gguf && is_norm(kind) ? FMT_DTYPE_F32 : o->dtype;
    t->bytes = (t->rows ? t->rows : 1) * t->cols * fmt_dtype_size(t->dtype);
    if (o->gguf && o->quant && t->rows) {
        int output = kind == PHI3_W_OUTPUT || (kind == PHI3_W_EMBD && o->cfg.tie_word_embeddings);
        uint32_t q = phi3_quant_type(o->quant, kind, layer, o->cfg.n_layers, t->cols, output);
        if (fmt_quant_supported(q)) t->qtype = q, t->bytes = t->rows * fmt_quant_row_bytes(q, t->cols);
        else t->dtype = FMT_DTYPE_F16, t->bytes = t->rows * t->cols * 2; /* no whole blocks: F16 */
    }
}

/* Every tensor in file order; returns the count. p holds 9 + 6 n_layers. */
static int make_plan(const phi3_synth_opts *o, plan_t *p) {
    const phi3_config *c = &o->cfg;
    uint64_t hd = (uint64_t)(c->hidden / c->n_heads);
    int n = 0;
    plan_add(p, &n, o, PHI3_W_EMBD, 0);
    for (int l = 0; l < c->n_layers; l++)
        for (int k = PHI3_W_ATTN_NORM; k <= PHI3_W_DOWN; k++) plan_add(p, &n, o, (phi3_weight_kind)k, l);
    plan_add(p, &n, o, PHI3_W_OUTPUT_NORM, 0);
    if (!c->tie_word_embeddings) plan_add(p, &n, o, PHI3_W_OUTPUT, 0);
    if (o->gguf && c->rope_scaling == PHI3_ROPE_LONGROPE) {
        const float *f[2] = {c->long_factor, c->short_factor};
        const char *nm[2] = {PHI3_GGUF_ROPE_LONG, PHI3_GGUF_ROPE_SHORT};
        for (int i = 0; i < 2; i++) {
            plan_t *t = &p[n++];
            memset(t, 0, sizeof *t);
            snprintf(t->name, sizeof t->name, "%s", nm[i]);
            t->cols = hd / 2, t->dtype = FMT_DTYPE_F32, t->fixed = f[i], t->bytes = hd / 2 * 4;
        }
    }
    return n;
}

/* Streams one tensor's bytes through emit (fwrite or the GGUF writer). */
typedef int (*emit_fn)(void *ctx, const void *p, size_t n, char *err, size_t errlen);

/* Units [lo, hi) of the chunk of tensor t starting at value `at`: values
 * generated and stored in t's type (a unit: one block of a block type, else
 * one value). One part of a chunk on its own thread. */
typedef struct chunk_job {
    const phi3_synth_opts *o;
    const plan_t *t;
    uint64_t at, unit, unit_bytes;
    float *vals;
    uint8_t *bytes;
} chunk_job;

static void chunk_part(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    (void)part, (void)err, (void)errlen;
    const chunk_job *j = ctx;
    const plan_t *t = j->t;
    uint64_t v0 = lo * j->unit, n = (hi - lo) * j->unit;
    float *vals = j->vals + v0;
    uint8_t *bytes = j->bytes + lo * j->unit_bytes;
    if (t->fixed) memcpy(vals, t->fixed + j->at + v0, (size_t)n * 4);
    else phi3_synth_values(j->o, t->kind, t->layer, j->at + v0, n, vals);
    if (t->qtype) {
        fmt_quantize_row(t->qtype, vals, bytes, n);
    } else if (t->dtype == FMT_DTYPE_F32) {
        memcpy(bytes, vals, (size_t)n * 4);
    } else {
        uint16_t *h = (uint16_t *)(void *)bytes;
        for (uint64_t i = 0; i < n; i++) h[i] = t->dtype == FMT_DTYPE_F16 ? fmt_f32_to_f16(vals[i]) : phi3_synth_f32_to_bf16(vals[i]);
    }
}

/* Values below which a part is not worth a thread. */
#define PART_MIN_VALUES (1u << 16)

static int stream_tensor(const phi3_synth_opts *o, const plan_t *t, float *vals, uint8_t *bytes, emit_fn emit, void *ctx,
                         char *err, size_t errlen) {
    uint64_t total = (t->rows ? t->rows : 1) * t->cols;
    int threads = o->threads > 0 ? o->threads : util_cpu_count();
    /* CHUNK is a whole number of rows' blocks: rows are whole blocks */
    chunk_job j = {.o = o, .t = t, .vals = vals, .bytes = bytes,
                   .unit = t->qtype ? fmt_quant_block_values(t->qtype) : 1,
                   .unit_bytes = t->qtype ? fmt_quant_block_bytes(t->qtype) : fmt_dtype_size(t->dtype)};
    for (uint64_t at = 0; at < total; at += CHUNK) {
        uint64_t n = total - at < CHUNK ? total - at : CHUNK, units = n / j.unit;
        uint64_t fit = n / PART_MIN_VALUES;
        j.at = at;
        if (util_par_ranges(fit < (uint64_t)threads ? (int)fit : threads, units, chunk_part, &j, err, errlen) ||
            emit(ctx, bytes, (size_t)(units * j.unit_bytes), err, errlen))
            return -1;
    }
    return 0;
}

/* ---- Hugging Face folder ---- */

typedef struct file_ctx {
    FILE *f;
    const char *path;
} file_ctx;

static int emit_file(void *ctx, const void *p, size_t n, char *err, size_t errlen) {
    file_ctx *fc = ctx;
    if (fwrite(p, 1, n, fc->f) != n) return fmt_file_error(err, errlen, fc->path, "write failed: %s", strerror(errno));
    return 0;
}

static int write_text(const char *path, const char *text, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) return fmt_file_error(err, errlen, path, "cannot create: %s", strerror(errno));
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    return bad ? fmt_file_error(err, errlen, path, "write failed: %s", strerror(errno)) : 0;
}

/* Shard of each tensor: contiguous, balanced by bytes, none empty (needs
 * n >= shards). Shard ids step by at most one, and step whenever as many
 * tensors are left as shards still empty. */
static void assign_shards(plan_t *p, int n, int shards) {
    uint64_t total = 0, start = 0;
    for (int i = 0; i < n; i++) total += p[i].bytes;
    int prev = 0;
    for (int i = 0; i < n; i++) {
        int s = (int)((double)start * shards / (double)(total ? total : 1));
        if (s < prev) s = prev;
        if (s > prev + 1) s = prev + 1;
        if (i > 0 && n - i <= shards - 1 - prev) s = prev + 1;
        if (i == 0) s = 0;
        if (s > shards - 1) s = shards - 1;
        p[i].shard = prev = s;
        start += p[i].bytes;
    }
}

static char *shard_header(const plan_t *p, int n, int shard, size_t *len) {
    size_t cap = 256 + (size_t)n * 200;
    char *h = malloc(cap);
    if (!h) return NULL;
    size_t k = (size_t)snprintf(h, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].shard != shard) continue;
        const char *dt = fmt_dtype_name(p[i].dtype);
        if (p[i].rows)
            k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[%llu,%llu]}", p[i].name, dt,
                                  (unsigned long long)p[i].rows, (unsigned long long)p[i].cols, (unsigned long long)off,
                                  (unsigned long long)(off + p[i].bytes));
        else
            k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}", p[i].name, dt,
                                  (unsigned long long)p[i].cols, (unsigned long long)off, (unsigned long long)(off + p[i].bytes));
        off += p[i].bytes;
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    while (k % 8) h[k++] = ' '; /* the data area starts 8-byte aligned, as HF writes it */
    h[k] = 0;
    *len = k;
    return h;
}

static int write_shard(const phi3_synth_opts *o, const plan_t *p, int n, int shard, const char *path, float *vals, uint8_t *bytes,
                       char *err, size_t errlen) {
    size_t hlen;
    char *h = shard_header(p, n, shard, &hlen);
    if (!h) return fmt_file_error(err, errlen, path, "out of memory");
    file_ctx fc = {fopen(path, "wb"), path};
    int rc = -1;
    uint64_t hl = hlen;
    if (!fc.f) {
        fmt_file_error(err, errlen, path, "cannot create: %s", strerror(errno));
        goto done;
    }
    if (emit_file(&fc, &hl, 8, err, errlen) || emit_file(&fc, h, hlen, err, errlen)) goto done;
    for (int i = 0; i < n; i++)
        if (p[i].shard == shard && stream_tensor(o, &p[i], vals, bytes, emit_file, &fc, err, errlen)) goto done;
    rc = 0;
done:
    if (fc.f && fclose(fc.f) && !rc) rc = fmt_file_error(err, errlen, path, "close failed: %s", strerror(errno));
    free(h);
    return rc;
}

static int write_index(const plan_t *p, int n, int shards, const char *dir, char *err, size_t errlen) {
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += p[i].bytes;
    size_t cap = 256 + (size_t)n * 160, k;
    char *s = malloc(cap), path[4096];
    if (!s) return fmt_file_error(err, errlen, dir, "out of memory");
    k = (size_t)snprintf(s, cap, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {", (unsigned long long)total);
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s\n    \"%s\": \"model-%05d-of-%05d.safetensors\"", i ? "," : "", p[i].name, p[i].shard + 1, shards);
    snprintf(s + k, cap - k, "\n  }\n}");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    int rc = write_text(path, s, err, errlen);
    free(s);
    return rc;
}

#define TOKENIZER_FILE_MAX (64u << 20) /* tokenizer.json is ~2 MB */

/* The folder of a tokenizer path (a tokenizer.json or a folder) into out. */
static void tokenizer_dir(const char *tok, char *out, size_t len) {
    if (fmt_is_dir(tok)) {
        snprintf(out, len, "%s", tok);
        return;
    }
    const char *slash = strrchr(tok, '/');
    if (slash) snprintf(out, len, "%.*s", (int)(slash - tok), tok);
    else snprintf(out, len, ".");
}

/* Copies the tokenizer files next to o->tokenizer into dir (see synth.h). */
static int copy_tokenizer(const phi3_synth_opts *o, const char *dir, char *err, size_t errlen) {
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    char src_dir[4096], from[4200], to[4200];
    tokenizer_dir(o->tokenizer, src_dir, sizeof src_dir);
    for (int i = 0; i < 3; i++) {
        if (i == 0 && !fmt_is_dir(o->tokenizer)) snprintf(from, sizeof from, "%s", o->tokenizer);
        else snprintf(from, sizeof from, "%s/%s", src_dir, names[i]);
        struct stat st;
        if (i > 0 && stat(from, &st) != 0) continue; /* the config files are optional */
        size_t len;
        char *data = fmt_read_file(from, TOKENIZER_FILE_MAX, &len, err, errlen);
        if (!data) return -1;
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        FILE *f = fopen(to, "wb");
        int bad = !f || fwrite(data, 1, len, f) != len;
        if (f) bad |= fclose(f) != 0;
        free(data);
        if (bad) return fmt_file_error(err, errlen, to, "write failed: %s", strerror(errno));
    }
    return 0;
}

/* Loads o->tokenizer and checks that its ids fit the vocabulary. */
static tok_tokenizer *load_tokenizer(const phi3_synth_opts *o, char *err, size_t errlen) {
    tok_tokenizer *t = tok_load_path(o->tokenizer, err, errlen);
    if (t && tok_n_vocab(t) > o->cfg.vocab) {
        fmt_file_error(err, errlen, o->tokenizer, "the tokenizer has %d ids, more than the model's vocabulary of %d "
                                                  "(--vocab)", (int)tok_n_vocab(t), o->cfg.vocab);
        tok_destroy(t);
        return NULL;
    }
    return t;
}

/* 1 for the weight files a checkpoint folder holds (which a new one replaces). */
static int is_weight_file(const char *name) {
    size_t n = strlen(name);
    return !strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json") ||
           (!strncmp(name, "model-", 6) && n > 12 && !strcmp(name + n - 12, ".safetensors") && strstr(name, "-of-"));
}

static int remove_stale_weights(const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char path[4200];
    int rc = 0;
    while (!rc && (e = readdir(d)))
        if (is_weight_file(e->d_name)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (remove(path)) rc = fmt_file_error(err, errlen, path, "cannot remove the old file: %s", strerror(errno));
        }
    closedir(d);
    return rc;
}

static int write_hf(const phi3_synth_opts *o, const plan_t *p, int n, const char *dir, float *vals, uint8_t *bytes, char *err, size_t errlen) {
    char path[4096];
    if (mkdir(dir, 0755) && errno != EEXIST) return fmt_file_error(err, errlen, dir, "cannot create folder: %s", strerror(errno));
    if (!fmt_is_dir(dir)) return fmt_file_error(err, errlen, dir, "exists and is not a folder");
    if (remove_stale_weights(dir, err, errlen)) return -1;
    if (o->tokenizer) {
        tok_tokenizer *t = load_tokenizer(o, err, errlen);
        if (!t) return -1;
        int is_gguf = strcmp(tok_source_kind(t), "tokenizer.json") != 0;
        tok_destroy(t);
        if (is_gguf)
            return fmt_file_error(err, errlen, o->tokenizer, "a GGUF vocabulary cannot be written as tokenizer.json: "
                                                             "pass a tokenizer.json, or write a GGUF (--gguf)");
        if (copy_tokenizer(o, dir, err, errlen)) return -1;
    }
    const char *torch = o->dtype == FMT_DTYPE_F32 ? "float32" : o->dtype == FMT_DTYPE_F16 ? "float16" : "bfloat16";
    char *cj = phi3_config_to_json(&o->cfg, torch), *gj = phi3_config_generation_to_json(&o->cfg);
    int rc = !cj || !gj ? fmt_file_error(err, errlen, dir, "out of memory") : 0;
    if (!rc) snprintf(path, sizeof path, "%s/config.json", dir), rc = write_text(path, cj, err, errlen);
    if (!rc) snprintf(path, sizeof path, "%s/generation_config.json", dir), rc = write_text(path, gj, err, errlen);
    free(cj);
    free(gj);
    for (int s = 0; !rc && s < o->shards; s++) {
        if (o->shards == 1) snprintf(path, sizeof path, "%s/model.safetensors", dir);
        else snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, s + 1, o->shards);
        rc = write_shard(o, p, n, s, path, vals, bytes, err, errlen);
    }
    if (!rc && o->shards > 1) rc = write_index(p, n, o->shards, dir, err, errlen);
    return rc;
}

/* ---- GGUF ---- */

static int emit_gguf(void *ctx, const void *p, size_t n, char *err, size_t errlen) { return fmt_gguf_writer_data(ctx, p, n, err, errlen); }

static int gguf_metadata(fmt_gguf_writer *w, const phi3_synth_opts *o, char *err, size_t errlen) {
    /* "Phi-3" in the name: llama.cpp keys its Phi-3 tokenizer handling on it */
    phi3_convert_model_keys(w, &o->cfg, "Phi-3 synthetic (phi3vk)",
                            o->quant ? phi3_quant_file_type(o->quant) : o->dtype == FMT_DTYPE_F32 ? 0 : o->dtype == FMT_DTYPE_F16 ? 1 : 32);
    if (!o->tokenizer) return 0;
    tok_tokenizer *t = load_tokenizer(o, err, errlen);
    phi3_tokcfg tc = {0};
    int rc = !t || phi3_tokcfg_load(o->tokenizer, &tc, err, errlen) ? -1
             : phi3_convert_tokenizer_keys(w, t, &o->cfg, &tc, o->tokenizer, err, errlen) < 0 ? -1 : 0;
    phi3_tokcfg_free(&tc);
    tok_destroy(t);
    return rc;
}

static int write_gguf(const phi3_synth_opts *o, const plan_t *p, int n, const char *path, float *vals, uint8_t *bytes, char *err, size_t errlen) {
    fmt_gguf_writer *w = fmt_gguf_writer_create();
    if (!w) return fmt_file_error(err, errlen, path, "out of memory");
    if (gguf_metadata(w, o, err, errlen)) {
        fmt_gguf_writer_destroy(w);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uint64_t ne[2] = {p[i].cols, p[i].rows};
        uint32_t type = p[i].qtype                    ? p[i].qtype
                        : p[i].dtype == FMT_DTYPE_F32 ? FMT_GGML_F32
                        : p[i].dtype == FMT_DTYPE_F16 ? FMT_GGML_F16
                                                      : FMT_GGML_BF16;
        fmt_gguf_writer_tensor(w, p[i].name, type, p[i].rows ? 2 : 1, ne);
    }
    int rc = fmt_gguf_writer_begin(w, path, err, errlen);
    for (int i = 0; !rc && i < n; i++) rc = stream_tensor(o, &p[i], vals, bytes, emit_gguf, w, err, errlen);
    if (!rc) rc = fmt_gguf_writer_finish(w, err, errlen);
    fmt_gguf_writer_destroy(w);
    return rc;
}

int phi3_synth_validate(const phi3_synth_opts *o, char *err, size_t errlen) {
    phi3_config c = o->cfg;
    if (phi3_config_validate(&c, "synth", err, errlen)) return -1;
    if (o->dtype != FMT_DTYPE_F32 && o->dtype != FMT_DTYPE_F16 && o->dtype != FMT_DTYPE_BF16)
        return fmt_file_error(err, errlen, "synth", "--dtype: expected f32, f16 or bf16");
    if (!(o->std > 0 && o->std < 100) || !(o->embd_std > 0 && o->embd_std <= 1e6f))
        return fmt_file_error(err, errlen, "synth", "--std / --embd-std: expected positive values, found %g / %g", o->std, o->embd_std);
    int n_tensors = 2 + 6 * c.n_layers + !c.tie_word_embeddings; /* embd, norm, [lm_head], 6 per layer */
    if (!o->gguf && (o->shards < 1 || o->shards > n_tensors))
        return fmt_file_error(err, errlen, "synth", "--shards: expected 1 .. %d (the number of tensors), found %d", n_tensors,
                              o->shards);
    return 0;
}

int phi3_synth_write(const phi3_synth_opts *o, const char *out, char *err, size_t errlen) {
    phi3_synth_opts v = *o;
    if (phi3_synth_validate(o, err, errlen) || phi3_config_validate(&v.cfg, "synth", err, errlen)) return -1;
    if (!v.gguf && !strcmp(out, "-")) return fmt_file_error(err, errlen, "synth", "a folder cannot be standard output ('-' needs --gguf)");
    int cap = 11 + 6 * v.cfg.n_layers;
    plan_t *p = calloc((size_t)cap, sizeof *p);
    float *vals = malloc(CHUNK * sizeof *vals);
    uint8_t *bytes = malloc(CHUNK * 4);
    int rc = -1;
    if (!p || !vals || !bytes) {
        fmt_file_error(err, errlen, out, "out of memory");
        goto done;
    }
    int n = make_plan(&v, p);
    if (v.gguf) {
        rc = write_gguf(&v, p, n, out, vals, bytes, err, errlen);
        goto done;
    }
    if (v.shards < 1 || v.shards > n) {
        fmt_file_error(err, errlen, "synth", "--shards: expected 1 .. %d (the number of tensors), found %d", n, v.shards);
        goto done;
    }
    assign_shards(p, n, v.shards);
    rc = write_hf(&v, p, n, out, vals, bytes, err, errlen);
done:
    free(p);
    free(vals);
    free(bytes);
    return rc;
}
