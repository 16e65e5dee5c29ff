/* Hugging Face Phi-3 folder -> F16 GGUF (see convert.h).
 *
 * Facts followed (llama.cpp, convert_hf_to_gguf.py and gguf-py; no code
 * taken):
 *   - Phi3MiniModel.set_gguf_parameters: the phi3.* keys, rope dims =
 *     hidden / heads, sliding_window written as 0 when config.json has none;
 *   - Phi3MiniModel.generate_extra_tensors: LongRoPE ("su"/"longrope")
 *     factors as F32 rope_factors_long/short.weight and attn_factor
 *     sqrt(1 + ln(max/orig) / ln(orig)) when max > orig, else 1;
 *   - Phi3MiniModel.set_vocab: vocab_size entries, pre-filled "[PAD<i>]",
 *     score -10000, type UNUSED; added tokens score -1000, CONTROL when
 *     special else USER_DEFINED; tokenizer.ggml.model "llama", pre "default";
 *   - ModelBase.prepare_tensors: n_dims <= 1 or "*_norm.weight" -> F32,
 *     other tensors -> the output type (F16 for --outtype f16);
 *   - gguf-py SpecialVocab: special ids from tokenizer_config.json's
 *     *_token looked up among tokenizer.json's added tokens, then
 *     config.json's *_token_id; add_bos/add_eos_token and chat_template from
 *     tokenizer_config.json;
 *   - prepare_metadata: general.type "model", general.name (the folder name
 *     by default), general.quantization_version = GGML_QUANT_VERSION (2);
 *   - llama-vocab.cpp gives Phi-3's added tokens rstrip (all special ones but
 *     <unk>, <s>, <|endoftext|>; and </s>) only when general.name contains
 *     "phi3" or "phi-3", case-insensitively: hence the default name.
 * ../shared/data/tokenizer/ggml-vocab-phi-3.gguf, which llama.cpp wrote,
 * shows the same keys and types (an older converter: its [PAD] entries are
 * type UNKNOWN and it has no sliding_window / general.type). */
#include "model/convert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/f16.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/mapfile.h"
#include "formats/quant.h"
#include "util/par.h"

#define TOKCFG_MAX_BYTES (16u << 20)   /* tokenizer_config.json is a few KB */
#define CHUNK_VALUES (1u << 22)        /* fp16 values per write: 8 MB */
_Static_assert(CHUNK_VALUES / 2 >= PHI3_MAX_DIM, "a chunk of float rows holds at least one row");
#define GGML_QUANT_VERSION 2u
#define PAD_SCORE (-10000.0f)

/* ---- tokenizer_config.json ---- */

void phi3_tokcfg_free(phi3_tokcfg *c) {
    if (!c) return;
    free(c->chat_template);
    memset(c, 0, sizeof *c);
    c->add_bos = c->add_eos = -1;
}

static int is_gguf_file(const char *path) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(magic, "GGUF", 4);
}

static int tokcfg_from_gguf(const char *path, phi3_tokcfg *c, char *err, size_t errlen) {
    fmt_gguf *g = fmt_gguf_open(path, err, errlen);
    if (!g) return -1;
    int rc = 0, b;
    const char *s;
    snprintf(c->path, sizeof c->path, "%s", path);
    if (fmt_gguf_find_key(g, "tokenizer.chat_template") >= 0) {
        rc = fmt_gguf_get_str(g, "tokenizer.chat_template", &s, NULL, err, errlen);
        if (!rc && !(c->chat_template = strdup(s))) rc = fmt_file_error(err, errlen, path, "out of memory");
    }
    if (!rc && fmt_gguf_find_key(g, "tokenizer.ggml.add_bos_token") >= 0) {
        rc = fmt_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, err, errlen);
        c->add_bos = b;
    }
    if (!rc && fmt_gguf_find_key(g, "tokenizer.ggml.add_eos_token") >= 0) {
        rc = fmt_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, err, errlen);
        c->add_eos = b;
    }
    fmt_gguf_close(g);
    return rc;
}

/* add_*_token: a JSON bool, or absent / null (-1). */
static int tokcfg_bool(const cJSON *root, const char *key, int *out, const char *path, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return fmt_file_error(err, errlen, path, "field %s: expected true or false", key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

/* chat_template: a string, or a list of {"name", "template"} (the "default" one). */
static int tokcfg_template(const cJSON *root, phi3_tokcfg *c, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsArray(v)) {
        const cJSON *e, *pick = NULL;
        cJSON_ArrayForEach(e, v) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default")) pick = cJSON_GetObjectItemCaseSensitive(e, "template");
        }
        if (!pick) return 0;
        v = pick;
    }
    if (!cJSON_IsString(v)) return fmt_file_error(err, errlen, c->path, "field chat_template: expected a string");
    if (!(c->chat_template = strdup(v->valuestring))) return fmt_file_error(err, errlen, c->path, "out of memory");
    return 0;
}

int phi3_tokcfg_load(const char *tok_path, phi3_tokcfg *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->add_bos = c->add_eos = -1;
    if (fmt_is_file(tok_path) && is_gguf_file(tok_path)) return tokcfg_from_gguf(tok_path, c, err, errlen);
    /* the folder itself, or the folder of a tokenizer.json */
    char path[4096];
    int n;
    if (fmt_is_dir(tok_path)) {
        n = snprintf(path, sizeof path, "%s/tokenizer_config.json", tok_path);
    } else {
        const char *slash = strrchr(tok_path, '/');
        n = slash ? snprintf(path, sizeof path, "%.*s/tokenizer_config.json", (int)(slash - tok_path), tok_path)
                  : snprintf(path, sizeof path, "tokenizer_config.json");
    }
    if (n < 0 || (size_t)n >= sizeof path) return fmt_file_error(err, errlen, tok_path, "path too long");
    if (!fmt_is_file(path)) return 0;
    size_t len;
    char *text = fmt_read_file(path, TOKCFG_MAX_BYTES, &len, err, errlen);
    if (!text) return -1;
    snprintf(c->path, sizeof c->path, "%s", path);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    int rc;
    if (!cJSON_IsObject(root)) rc = fmt_file_error(err, errlen, path, "not a JSON object");
    else
        rc = tokcfg_bool(root, "add_bos_token", &c->add_bos, path, err, errlen) ||
             tokcfg_bool(root, "add_eos_token", &c->add_eos, path, err, errlen) || tokcfg_template(root, c, err, errlen);
    cJSON_Delete(root);
    if (rc) phi3_tokcfg_free(c);
    return rc ? -1 : 0;
}

/* ---- the tensor plan ---- */

typedef struct plan_t {
    char name[64];
    const phi3_tensor *src;   /* HF weight; NULL for the rope factors */
    const float *fixed;       /* rope factors: cols F32 values from the config */
    uint32_t type;            /* FMT_GGML_F32 (1-D), F16 or a block type */
    uint64_t rows, cols;      /* rows 0: a 1-D tensor of cols values */
} plan_t;

static void plan_weight(plan_t *p, int *n, const phi3_source *src, phi3_quant q, phi3_weight_kind kind, int layer) {
    plan_t *t = &p[(*n)++];
    memset(t, 0, sizeof *t);
    phi3_weight_name(kind, layer, 1, t->name, sizeof t->name);
    t->src = phi3_source_weight(src, kind, layer);
    int one_d = t->src->n_dims <= 1;
    int output = kind == PHI3_W_OUTPUT || (kind == PHI3_W_EMBD && phi3_source_output_is_tied(src));
    t->type = one_d ? FMT_GGML_F32 : phi3_quant_type(q, kind, layer, phi3_source_config(src)->n_layers, t->src->cols, output);
    t->rows = one_d ? 0 : t->src->rows;
    t->cols = t->src->cols;
}

/* Every tensor in the converter's order (generated factors first, then the
 * checkpoint's). p holds 10 + 6 n_layers. Returns the count. */
static int make_plan(const phi3_source *src, phi3_quant q, plan_t *p) {
    const phi3_config *c = phi3_source_config(src);
    int n = 0;
    if (c->rope_scaling == PHI3_ROPE_LONGROPE) {
        const float *f[2] = {c->long_factor, c->short_factor};
        const char *nm[2] = {PHI3_GGUF_ROPE_LONG, PHI3_GGUF_ROPE_SHORT};
        for (int i = 0; i < 2; i++) {
            plan_t *t = &p[n++];
            memset(t, 0, sizeof *t);
            snprintf(t->name, sizeof t->name, "%s", nm[i]);
            t->fixed = f[i], t->type = FMT_GGML_F32, t->cols = (uint64_t)c->head_dim / 2;
        }
    }
    plan_weight(p, &n, src, q, PHI3_W_EMBD, 0);
    for (int l = 0; l < c->n_layers; l++)
        for (int k = PHI3_W_ATTN_NORM; k <= PHI3_W_DOWN; k++) plan_weight(p, &n, src, q, (phi3_weight_kind)k, l);
    plan_weight(p, &n, src, q, PHI3_W_OUTPUT_NORM, 0);
    if (!phi3_source_output_is_tied(src)) plan_weight(p, &n, src, q, PHI3_W_OUTPUT, 0);
    return n;
}

static uint64_t plan_bytes(const plan_t *t) { return (t->rows ? t->rows : 1) * fmt_quant_row_bytes(t->type, t->cols); }

/* ---- metadata ---- */

/* Path component k from the end of path (0 = last; trailing slashes
 * ignored) into out; "" when there is none. */
static void path_component(const char *path, int k, char *out, size_t n) {
    size_t end = strlen(path);
    out[0] = 0;
    for (int i = 0;; i++) {
        while (end > 1 && path[end - 1] == '/') end--;
        size_t start = end;
        while (start > 0 && path[start - 1] != '/') start--;
        if (i == k) {
            snprintf(out, n, "%.*s", (int)(end - start), path + start);
            return;
        }
        if (start == 0) return;
        end = start;
    }
}

int phi3_convert_name_marks_phi3(const char *name) {
    char low[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++) low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    low[i] = 0;
    return strstr(low, "phi3") || strstr(low, "phi-3");
}

void phi3_convert_default_name(const char *src_path, char *out, size_t n) {
    char last[256], up[256], repo[256];
    path_component(src_path, 0, last, sizeof last);
    path_component(src_path, 1, up, sizeof up);
    path_component(src_path, 2, repo, sizeof repo);
    /* Hugging Face cache: models--<org>--<name>/snapshots/<commit> */
    const char *sep = NULL, *name = last;
    for (const char *q = strstr(repo, "--"); q; q = strstr(q + 2, "--")) sep = q;
    if (!strcmp(up, "snapshots") && !strncmp(repo, "models--", 8) && sep > repo + 6 && sep[2]) name = sep + 2;
    snprintf(out, n, "%s%s", phi3_convert_name_marks_phi3(name) ? "" : "Phi-3 ", name);
}

void phi3_convert_model_keys(fmt_gguf_writer *w, const phi3_config *c, const char *name, uint32_t file_type) {
    fmt_gguf_writer_str(w, "general.architecture", "phi3");
    if (c->rope_scaling == PHI3_ROPE_LONGROPE)
        fmt_gguf_writer_f32(w, "phi3.rope.scaling.attn_factor", (float)c->rope_attn_factor);
    fmt_gguf_writer_str(w, "general.type", "model");
    fmt_gguf_writer_str(w, "general.name", name);
    fmt_gguf_writer_u32(w, "phi3.context_length", (uint32_t)c->max_pos);
    fmt_gguf_writer_u32(w, "phi3.rope.scaling.original_context_length", (uint32_t)c->orig_max_pos);
    fmt_gguf_writer_u32(w, "phi3.embedding_length", (uint32_t)c->hidden);
    fmt_gguf_writer_u32(w, "phi3.feed_forward_length", (uint32_t)c->intermediate);
    fmt_gguf_writer_u32(w, "phi3.block_count", (uint32_t)c->n_layers);
    fmt_gguf_writer_u32(w, "phi3.attention.head_count", (uint32_t)c->n_heads);
    fmt_gguf_writer_u32(w, "phi3.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    fmt_gguf_writer_f32(w, "phi3.attention.layer_norm_rms_epsilon", (float)c->rms_eps);
    fmt_gguf_writer_u32(w, "phi3.rope.dimension_count", (uint32_t)c->head_dim);
    fmt_gguf_writer_f32(w, "phi3.rope.freq_base", (float)c->rope_theta);
    fmt_gguf_writer_u32(w, "general.file_type", file_type);
    fmt_gguf_writer_u32(w, "phi3.attention.sliding_window", (uint32_t)c->sliding_window);
    /* every stop id of generation_config.json: GGUF has one eos_token_id, and llama.cpp
     * knows <|end|> by its text, but the judge also stops at <|assistant|> (32001) */
    if (c->n_stop > 0) {
        uint32_t ids[PHI3_MAX_STOP_IDS];
        for (int i = 0; i < c->n_stop; i++) ids[i] = (uint32_t)c->stop_ids[i];
        fmt_gguf_writer_arr(w, PHI3_GGUF_STOP_IDS, FMT_GGUF_UINT32, ids, (uint64_t)c->n_stop);
    }
}

static void model_keys(fmt_gguf_writer *w, const phi3_source *src, const phi3_convert_opts *o) {
    char name[256];
    if (o && o->name && o->name[0]) snprintf(name, sizeof name, "%s", o->name);
    else phi3_convert_default_name(phi3_source_path(src), name, sizeof name);
    phi3_convert_model_keys(w, phi3_source_config(src), name, phi3_quant_file_type(o ? o->quant : PHI3_QUANT_NONE));
}

/* The vocabulary arrays: tokens (pointers into tok or pad_text), scores, types. */
typedef struct vocab_t {
    const char **tokens;
    float *scores;
    int32_t *types;
    char *pad_text;     /* "[PAD<id>]" strings, 16 bytes each */
    int32_t n, n_pad;
} vocab_t;

static void vocab_free(vocab_t *v) {
    free(v->tokens);
    free(v->scores);
    free(v->types);
    free(v->pad_text);
}

static int vocab_build(vocab_t *v, const tok_tokenizer *tok, int32_t n_model, const char *path, char *err, size_t errlen) {
    int32_t n_tok = tok_n_vocab(tok);
    memset(v, 0, sizeof *v);
    if (n_tok > n_model)
        return fmt_file_error(err, errlen, path, "the tokenizer has %d ids but config.json vocab_size is %d (expected at most %d)", (int)n_tok,
                               (int)n_model, (int)n_model);
    v->n = n_model;
    v->tokens = calloc((size_t)n_model, sizeof *v->tokens);
    v->scores = calloc((size_t)n_model, sizeof *v->scores);
    v->types = calloc((size_t)n_model, sizeof *v->types);
    v->pad_text = calloc((size_t)n_model, 16);
    if (!v->tokens || !v->scores || !v->types || !v->pad_text) return fmt_file_error(err, errlen, path, "out of memory");
    for (int32_t i = 0; i < n_model; i++) {
        tok_piece_info info;
        if (i < n_tok && tok_vocab_get(tok, i, &info) == 0 && info.type != TOK_TYPE_UNUSED) {
            if (info.len != strlen(info.text))
                return fmt_file_error(err, errlen, path, "token %d contains a NUL byte (cannot be stored)", (int)i);
            v->tokens[i] = info.text, v->scores[i] = info.score, v->types[i] = info.type;
        } else { /* beyond the tokenizer, or a hole in its ids */
            char *s = v->pad_text + (size_t)i * 16;
            snprintf(s, 16, "[PAD%d]", (int)i);
            v->tokens[i] = s, v->scores[i] = PAD_SCORE, v->types[i] = TOK_TYPE_UNUSED;
            v->n_pad++;
        }
    }
    return 0;
}

/* A special id: the tokenizer's when it has a tokenizer_config.json (or no
 * config value), else config.json's; -1 when neither is in range. */
static int32_t special_id(int32_t from_tok, int from_cfg, int have_tokcfg, int32_t n) {
    int32_t id = have_tokcfg || from_cfg < 0 ? from_tok : from_cfg;
    if (id < 0) id = from_cfg;
    return id >= 0 && id < n ? id : -1;
}

static void vocab_keys(fmt_gguf_writer *w, const vocab_t *v, const tok_tokenizer *tok, const phi3_config *c,
                           const phi3_tokcfg *tc) {
    fmt_gguf_writer_str(w, "tokenizer.ggml.model", "llama");
    fmt_gguf_writer_str(w, "tokenizer.ggml.pre", "default");
    fmt_gguf_writer_arr(w, "tokenizer.ggml.tokens", FMT_GGUF_STRING, v->tokens, (uint64_t)v->n);
    fmt_gguf_writer_arr(w, "tokenizer.ggml.scores", FMT_GGUF_FLOAT32, v->scores, (uint64_t)v->n);
    fmt_gguf_writer_arr(w, "tokenizer.ggml.token_type", FMT_GGUF_INT32, v->types, (uint64_t)v->n);
    int have = tc && tc->path[0];
    struct { const char *key; int32_t id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", special_id(tok_bos_id(tok), c->bos_id, have, v->n)},
        {"tokenizer.ggml.eos_token_id", special_id(tok_eos_id(tok), c->eos_id, have, v->n)},
        {"tokenizer.ggml.unknown_token_id", special_id(tok_unk_id(tok), -1, have, v->n)},
        {"tokenizer.ggml.padding_token_id", special_id(tok_pad_id(tok), c->pad_id, have, v->n)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0) fmt_gguf_writer_u32(w, ids[i].key, (uint32_t)ids[i].id);
    /* llama.cpp's defaults for a SentencePiece vocabulary when the config is silent */
    fmt_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", tc && tc->add_bos >= 0 ? tc->add_bos : tok_add_bos_default(tok));
    fmt_gguf_writer_bool(w, "tokenizer.ggml.add_eos_token", tc && tc->add_eos >= 0 ? tc->add_eos : 0);
    if (tc && tc->chat_template) fmt_gguf_writer_str(w, "tokenizer.chat_template", tc->chat_template);
    fmt_gguf_writer_u32(w, "general.quantization_version", GGML_QUANT_VERSION);
}

int phi3_convert_tokenizer_keys(fmt_gguf_writer *w, const tok_tokenizer *tok, const phi3_config *c,
                                const phi3_tokcfg *tc, const char *path, char *err, size_t errlen) {
    vocab_t v;
    if (vocab_build(&v, tok, c->vocab, path, err, errlen)) {
        vocab_free(&v);
        return -1;
    }
    vocab_keys(w, &v, tok, c, tc); /* the writer copies what it is given */
    int n_pad = v.n_pad;
    vocab_free(&v);
    return n_pad;
}

/* ---- tensor data ---- */

/* F32 data of a 1-D tensor: the source's values widened exactly (F32 kept,
 * BF16 and F16 converted) or the fixed rope factors. The source is read
 * under the mapping's SIGBUS guard (a file that shrinks is an error). */
static int write_f32(fmt_gguf_writer *w, const phi3_source *src, const plan_t *t, float *buf, char *err, size_t errlen) {
    if (t->fixed) return fmt_gguf_writer_data(w, t->fixed, (size_t)t->cols * 4, err, errlen);
    if (phi3_source_read_rows_f32(src, t->src, 0, 1, buf, err, errlen)) return -1;
    return fmt_gguf_writer_data(w, buf, (size_t)t->cols * 4, err, errlen);
}

/* Rows [lo, hi) of a chunk of float rows quantized (one part of a chunk). */
typedef struct quant_job {
    const plan_t *t;
    const float *f;
    uint8_t *q;
    uint64_t rb;
} quant_job;

static void quant_part(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    (void)part, (void)err, (void)errlen;
    const quant_job *j = ctx;
    for (uint64_t i = lo; i < hi; i++) fmt_quantize_row(j->t->type, j->f + i * j->t->cols, j->q + i * j->rb, j->t->cols);
}

/* A block-type matrix, a block of rows at a time: float rows quantized on
 * `threads` threads (fbuf: CHUNK_VALUES / 2 floats; qbuf: CHUNK_VALUES * 2
 * bytes). */
static int write_quant(fmt_gguf_writer *w, const phi3_source *src, const plan_t *t, float *fbuf, uint8_t *qbuf, int threads,
                       char *err, size_t errlen) {
    uint64_t rb = fmt_quant_row_bytes(t->type, t->cols), step = CHUNK_VALUES / 2 / t->cols;
    quant_job j = {t, fbuf, qbuf, rb};
    for (uint64_t r = 0; r < t->rows; r += step) {
        uint64_t nr = t->rows - r < step ? t->rows - r : step;
        if (phi3_source_read_rows_f32(src, t->src, r, nr, fbuf, err, errlen) ||
            util_par_ranges(threads, nr, quant_part, &j, err, errlen) ||
            fmt_gguf_writer_data(w, qbuf, (size_t)(nr * rb), err, errlen))
            return -1;
    }
    return 0;
}

/* F16 data of a matrix, a block of rows at a time. */
static int write_f16(fmt_gguf_writer *w, const phi3_source *src, const plan_t *t, uint16_t *buf, phi3_convert_stats *st, char *err,
                     size_t errlen) {
    uint64_t step = CHUNK_VALUES / t->cols;
    if (step == 0) step = 1;
    for (uint64_t r = 0; r < t->rows; r += step) {
        uint64_t nr = t->rows - r < step ? t->rows - r : step;
        if (phi3_source_read_rows_f16(src, t->src, r, nr, buf, t->cols, st, err, errlen) ||
            fmt_gguf_writer_data(w, buf, (size_t)(nr * t->cols * 2), err, errlen))
            return -1;
    }
    return 0;
}

/* Flushes path's data to disk so that the rename below publishes a whole file. */
static int sync_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fmt_file_error(err, errlen, path, "cannot reopen to sync: %s", strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc ? fmt_file_error(err, errlen, path, "fsync failed: %s", strerror(e)) : 0;
}

int phi3_convert_gguf(const phi3_source *src, const tok_tokenizer *tok, const phi3_convert_opts *o, const char *out_path,
                      phi3_convert_result *res, char *err, size_t errlen) {
    phi3_convert_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (phi3_source_gguf(src))
        return fmt_file_error(err, errlen, phi3_source_path(src), "already a GGUF file (convert takes a Hugging Face folder)");
    if (!tok) return fmt_file_error(err, errlen, phi3_source_path(src), "no tokenizer given (a GGUF file embeds one)");
    if (fmt_is_dir(out_path)) return fmt_file_error(err, errlen, out_path, "is a folder (expected the path of the .gguf file to write)");
    const phi3_config *c = phi3_source_config(src);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= (int)sizeof tmp) return fmt_file_error(err, errlen, out_path, "path too long");

    int rc = -1, n = 0, cap = 10 + 6 * c->n_layers, to_stdout = !strcmp(out_path, "-");
    fmt_gguf_writer *w = fmt_gguf_writer_create();
    plan_t *p = calloc((size_t)cap, sizeof *p);
    /* one matrix chunk (and one 1-D tensor, hidden F32 values); the float rows of a block type */
    uint16_t *buf = malloc((size_t)CHUNK_VALUES * 2 > (size_t)c->hidden * 4 ? (size_t)CHUNK_VALUES * 2 : (size_t)c->hidden * 4);
    float *fbuf = malloc((size_t)CHUNK_VALUES / 2 * sizeof *fbuf); /* >= one row: columns are <= PHI3_MAX_DIM */
    if (!w || !p || !buf || !fbuf) {
        fmt_file_error(err, errlen, out_path, "out of memory");
        goto done;
    }
    n = make_plan(src, o ? o->quant : PHI3_QUANT_NONE, p);
    model_keys(w, src, o);
    int n_pad = phi3_convert_tokenizer_keys(w, tok, c, o ? o->tokcfg : NULL, phi3_source_path(src), err, errlen);
    if (n_pad < 0) goto done;
    uint64_t total = 0, done_bytes = 0;
    int threads = o && o->threads > 0 ? o->threads : util_cpu_count();
    for (int i = 0; i < n; i++) {
        uint64_t ne[2] = {p[i].cols, p[i].rows};
        fmt_gguf_writer_tensor(w, p[i].name, p[i].type, p[i].rows ? 2 : 1, ne);
        total += plan_bytes(&p[i]);
    }
    if (fmt_gguf_writer_begin(w, to_stdout ? "-" : tmp, err, errlen)) goto done;
    for (int i = 0; i < n; i++) {
        int r = p[i].type == FMT_GGML_F32   ? write_f32(w, src, &p[i], (float *)buf, err, errlen)
                : p[i].type == FMT_GGML_F16 ? write_f16(w, src, &p[i], buf, &res->stats, err, errlen)
                                            : write_quant(w, src, &p[i], fbuf, (uint8_t *)buf, threads, err, errlen);
        if (r) goto done;
        done_bytes += plan_bytes(&p[i]);
        if (o && o->progress) o->progress(o->progress_ctx, i, n, p[i].name, done_bytes, total);
    }
    if (fmt_gguf_writer_finish(w, err, errlen)) goto done;
    if (!to_stdout && sync_file(tmp, err, errlen)) {
        remove(tmp);
        goto done;
    }
    if (!to_stdout && rename(tmp, out_path)) {
        fmt_file_error(err, errlen, out_path, "cannot rename %s to it: %s", tmp, strerror(errno));
        remove(tmp);
        goto done;
    }
    res->n_tensors = n;
    res->tensor_bytes = total;
    res->n_pad = n_pad;
    rc = 0;
done:
    fmt_gguf_writer_destroy(w); /* removes an unfinished tmp file */
    free(p);
    free(buf);
    free(fbuf);
    return rc;
}
