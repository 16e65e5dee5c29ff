/* tokenizer.json (Hugging Face) loader: BPE model, added tokens, normalizer,
 * plus bos/eos/pad from a sibling tokenizer_config.json. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/mapfile.h"
#include "tokenizer/tok_gguf.h"
#include "tokenizer/tok_internal.h"

#define TOK_MAX_FILE (512u << 20) /* tokenizer files above this are refused */

/* One parsed merge, in file order (= rank). */
typedef struct merge_rec {
    int32_t a, b, id;
} merge_rec;

static int get_bool(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

/* Integer id in [0, TOK_MAX_VOCAB) or -1. */
static int32_t as_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < TOK_MAX_VOCAB) || d != floor(d)) return -1;
    return (int32_t)d;
}

/* ---- normalizer ---- */

static int add_norm(tok_tokenizer *t, int kind, const char *a, const char *b) {
    if (t->n_norm > TOK_MAX_NORM_STEPS) return 0; /* tok_norm_check reports it */
    tok_norm_op *p = realloc(t->norm, (t->n_norm + 1) * sizeof *p);
    if (!p) return -1;
    t->norm = p;
    tok_norm_op *op = &t->norm[t->n_norm];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->alen = strlen(a);
    op->a = malloc(op->alen + 1);
    if (b) {
        op->blen = strlen(b);
        op->b = malloc(op->blen + 1);
    }
    t->n_norm++; /* counted now so tok_destroy frees a/b even if one malloc failed */
    if (!op->a || (b && !op->b)) return -1;
    memcpy(op->a, a, op->alen + 1);
    if (b) memcpy(op->b, b, op->blen + 1);
    return 0;
}

static int parse_normalizer(tok_tokenizer *t, const cJSON *n, const char *name, int depth, char *err,
                            size_t errlen) {
    if (!n || cJSON_IsNull(n)) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(n, "type");
    if (!cJSON_IsObject(n) || !cJSON_IsString(ty))
        return tok_fail(err, errlen, "%s: normalizer: expected an object with a \"type\" string", name);
    const char *type = ty->valuestring;
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list) || depth > 8)
            return tok_fail(err, errlen, "%s: normalizer Sequence: expected a \"normalizers\" array", name);
        const cJSON *c;
        cJSON_ArrayForEach(c, list) if (parse_normalizer(t, c, name, depth + 1, err, errlen) != 0) return -1;
        return 0;
    }
    if (!strcmp(type, "Prepend")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "prepend");
        if (!cJSON_IsString(p))
            return tok_fail(err, errlen, "%s: normalizer Prepend: expected a \"prepend\" string", name);
        if (add_norm(t, TOK_NORM_PREPEND, p->valuestring, NULL) != 0) goto oom;
        return 0;
    }
    if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(n, "content");
        if (cJSON_GetObjectItemCaseSensitive(pat, "Regex"))
            return tok_fail(err, errlen, "%s: normalizer Replace: Regex patterns are not supported", name);
        if (!cJSON_IsString(s) || !s->valuestring[0] || !cJSON_IsString(content))
            return tok_fail(err, errlen,
                            "%s: normalizer Replace: expected \"pattern\": {\"String\": non-empty} and a "
                            "\"content\" string", name);
        if (add_norm(t, TOK_NORM_REPLACE, s->valuestring, content->valuestring) != 0) goto oom;
        return 0;
    }
    return tok_fail(err, errlen,
                    "%s: normalizer type \"%s\" is not supported (expected Prepend, Replace or Sequence, "
                    "as in Llama/Phi-3 tokenizers)", name, type);
oom:
    return tok_fail(err, errlen, "%s: out of memory", name);
}

/* ---- decoder: only whether the Llama-style Strip of one leading space is there ---- */

static int decoder_strips(const cJSON *d) {
    if (!cJSON_IsObject(d)) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(d, "type");
    if (!cJSON_IsString(ty)) return 0;
    if (!strcmp(ty->valuestring, "Strip")) {
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(d, "start");
        return cJSON_IsNumber(start) && start->valuedouble >= 1;
    }
    if (!strcmp(ty->valuestring, "Sequence")) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "decoders")) {
            /* no nesting: a Strip inside a nested Sequence is not Llama's layout */
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "type");
            if (cJSON_IsString(ct) && !strcmp(ct->valuestring, "Strip") && decoder_strips(c)) return 1;
        }
    }
    return 0;
}

/* ---- model.vocab, added_tokens ---- */

/* First pass: the largest id in model.vocab and added_tokens. */
static int scan_ids(const cJSON *vocab, const cJSON *added, const char *name, int32_t *max_id, char *err,
                    size_t errlen) {
    int32_t mx = -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, vocab) {
        int32_t id = as_id(c);
        if (id < 0)
            return tok_fail(err, errlen, "%s: model.vocab[\"%.40s\"]: expected an integer id in [0, %d)", name,
                            c->string ? c->string : "", TOK_MAX_VOCAB);
        if (id > mx) mx = id;
    }
    int i = 0;
    cJSON_ArrayForEach(c, added) {
        int32_t id = as_id(cJSON_GetObjectItemCaseSensitive(c, "id"));
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(c, "content");
        if (id < 0 || !cJSON_IsString(content))
            return tok_fail(err, errlen,
                            "%s: added_tokens[%d]: expected {\"id\": integer in [0, %d), \"content\": string}",
                            name, i, TOK_MAX_VOCAB);
        if (id > mx) mx = id;
        i++;
    }
    if (mx < 0) return tok_fail(err, errlen, "%s: model.vocab is empty", name);
    *max_id = mx;
    return 0;
}

static int load_vocab(tok_tokenizer *t, const cJSON *vocab, const char *name, char *err, size_t errlen) {
    const cJSON *c;
    cJSON_ArrayForEach(c, vocab) {
        int32_t id = as_id(c);
        const char *s = c->string ? c->string : "";
        tok_entry *e = &t->entries[id];
        if (strlen(s) > TOK_MAX_PIECE_LEN)
            return tok_fail(err, errlen, "%s: model.vocab: id %d (\"%.40s...\") is %zu bytes long, at most %d allowed", name,
                            id, s, strlen(s), TOK_MAX_PIECE_LEN);
        if (e->type != TOK_TYPE_UNUSED)
            return tok_fail(err, errlen, "%s: model.vocab: id %d is given to both \"%.40s\" and \"%.40s\"", name, id,
                            tok_text(t, id), s);
        if (tok_set_text(t, id, s, strlen(s)) != 0) goto oom;
        int byte = tok_parse_byte_piece(s, strlen(s));
        e->type = byte >= 0 ? TOK_TYPE_BYTE : TOK_TYPE_NORMAL;
        e->byte = (uint8_t)(byte >= 0 ? byte : 0);
        int32_t other = tok_strmap_put(&t->bpe_vocab, t, id);
        if (other == -2) goto oom;
        if (other >= 0)
            return tok_fail(err, errlen, "%s: model.vocab: \"%.40s\" appears twice (ids %d and %d)", name, s, other, id);
    }
    return 0;
oom:
    return tok_fail(err, errlen, "%s: out of memory", name);
}

static int load_added(tok_tokenizer *t, const cJSON *added, const char *name, char *err, size_t errlen) {
    const cJSON *c;
    int i = 0;
    cJSON_ArrayForEach(c, added) {
        int32_t id = as_id(cJSON_GetObjectItemCaseSensitive(c, "id"));
        const char *s = cJSON_GetObjectItemCaseSensitive(c, "content")->valuestring;
        size_t len = strlen(s);
        tok_entry *e = &t->entries[id];
        if (len > TOK_MAX_PIECE_LEN)
            return tok_fail(err, errlen, "%s: added_tokens[%d]: \"%.40s...\" is %zu bytes long, at most %d allowed", name, i,
                            s, len, TOK_MAX_PIECE_LEN);
        int32_t in_vocab = tok_strmap_get(&t->bpe_vocab, t, s, len);
        if (in_vocab >= 0 && in_vocab != id)
            return tok_fail(err, errlen, "%s: added_tokens[%d]: \"%.40s\" has id %d but model.vocab gives it id %d",
                            name, i, s, id, in_vocab);
        if (e->is_added)
            return tok_fail(err, errlen, "%s: added_tokens[%d]: id %d appears twice", name, i, id);
        if (e->type != TOK_TYPE_UNUSED && in_vocab != id)
            return tok_fail(err, errlen, "%s: added_tokens[%d]: id %d is \"%.40s\" in model.vocab, not \"%.40s\"",
                            name, i, id, tok_text(t, id), s);
        if (in_vocab < 0 && tok_set_text(t, id, s, len) != 0)
            return tok_fail(err, errlen, "%s: out of memory", name);
        int special = get_bool(c, "special", 0);
        unsigned f = 0;
        if (special) f |= TOK_ADDED_SPECIAL;
        if (get_bool(c, "lstrip", 0)) f |= TOK_ADDED_LSTRIP;
        if (get_bool(c, "rstrip", 0)) f |= TOK_ADDED_RSTRIP;
        if (get_bool(c, "single_word", 0)) f |= TOK_ADDED_SINGLE_WORD;
        if (get_bool(c, "normalized", !special)) f |= TOK_ADDED_NORMALIZED;
        e->is_added = 1;
        e->added = (uint8_t)f;
        /* llama.cpp's converter: special -> CONTROL, else USER_DEFINED, score -1000 */
        e->type = special ? TOK_TYPE_CONTROL : TOK_TYPE_USER_DEFINED;
        e->score = -1000.0f;
        i++;
    }
    return 0;
}

/* ---- merges ---- */

static int load_merges(tok_tokenizer *t, const cJSON *merges, merge_rec **out, size_t *n_out, const char *name,
                       char *err, size_t errlen) {
    size_t n = (size_t)cJSON_GetArraySize(merges);
    if (n > TOK_MAX_MERGES)
        return tok_fail(err, errlen, "%s: model.merges has %zu entries, at most %u allowed", name, n, TOK_MAX_MERGES);
    merge_rec *recs = malloc((n + 1) * sizeof *recs);
    char *cat = NULL;
    size_t cat_cap = 0;
    if (!recs || tok_mergemap_init(&t->merges, (uint32_t)n) != 0) goto oom;
    size_t r = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, merges) {
        const char *a, *b;
        size_t alen, blen;
        if (cJSON_IsString(c)) { /* "a b": exactly one space */
            const char *sp = strchr(c->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                tok_fail(err, errlen, "%s: model.merges[%zu]: expected \"A B\" (one space), found \"%.60s\"", name, r,
                         c->valuestring);
                goto fail;
            }
            a = c->valuestring;
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = strlen(b);
        } else if (cJSON_IsArray(c) && cJSON_GetArraySize(c) == 2 && cJSON_IsString(cJSON_GetArrayItem(c, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(c, 1))) {
            a = cJSON_GetArrayItem(c, 0)->valuestring;
            b = cJSON_GetArrayItem(c, 1)->valuestring;
            alen = strlen(a);
            blen = strlen(b);
        } else {
            tok_fail(err, errlen, "%s: model.merges[%zu]: expected \"A B\" or [\"A\", \"B\"]", name, r);
            goto fail;
        }
        if (alen + blen + 1 > cat_cap) {
            cat_cap = 2 * (alen + blen + 1);
            char *p = realloc(cat, cat_cap);
            if (!p) goto oom;
            cat = p;
        }
        memcpy(cat, a, alen);
        memcpy(cat + alen, b, blen);
        int32_t ia = tok_strmap_get(&t->bpe_vocab, t, a, alen);
        int32_t ib = tok_strmap_get(&t->bpe_vocab, t, b, blen);
        int32_t id = tok_strmap_get(&t->bpe_vocab, t, cat, alen + blen);
        if (ia < 0 || ib < 0 || id < 0) {
            const char *what = ia < 0 ? "the left part" : ib < 0 ? "the right part" : "the merged piece";
            tok_fail(err, errlen, "%s: model.merges[%zu]: \"%.*s\" + \"%.*s\": %s is not in model.vocab", name, r,
                     (int)(alen > 40 ? 40 : alen), a, (int)(blen > 40 ? 40 : blen), b, what);
            goto fail;
        }
        /* a repeated pair keeps its last rank, as HF's HashMap collect does */
        if (tok_mergemap_put(&t->merges, ia, ib, (uint32_t)r, id) != 0) goto oom;
        recs[r++] = (merge_rec){ia, ib, id};
    }
    free(cat);
    *out = recs;
    *n_out = r;
    return 0;
oom:
    tok_fail(err, errlen, "%s: out of memory reading model.merges", name);
fail:
    free(cat);
    free(recs);
    return -1;
}

/* (score desc, id, left, right): the order tok_create_spm ranks merges by. */
static int spm_key_le(const tok_tokenizer *t, const merge_rec *x, const merge_rec *y) {
    float sx = t->entries[x->id].score, sy = t->entries[y->id].score;
    if (sx != sy) return sx > sy;
    if (x->id != y->id) return x->id < y->id;
    if (x->a != y->a) return x->a < y->a;
    return x->b <= y->b;
}

/* SentencePiece scores for NORMAL pieces (see tok_vocab_get in tok.h). */
static int reconstruct_scores(tok_tokenizer *t, const merge_rec *m, size_t n) {
    int32_t base = -1;
    for (int32_t i = 0; i < t->n_vocab && base < 0; i++)
        if (t->entries[i].type == TOK_TYPE_NORMAL) base = i;
    if (base < 0) return 0;
    uint32_t *first = malloc((size_t)t->n_vocab * sizeof *first);
    if (!first) return -1;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        first[i] = UINT32_MAX;
        if (t->entries[i].type == TOK_TYPE_NORMAL) t->entries[i].score = -(float)(i - base);
    }
    int32_t max_seen = -1;
    for (size_t r = 0; r < n; r++) {
        int32_t id = m[r].id;
        if (first[id] != UINT32_MAX) continue;
        first[id] = (uint32_t)r;
        if (t->entries[id].type != TOK_TYPE_NORMAL) continue;
        if (id < max_seen) t->entries[id].score = -1e9f; /* merged later than its id says */
        else max_seen = id;
    }
    int ok = 1;
    for (size_t r = 0; r + 1 < n && ok; r++) ok = spm_key_le(t, &m[r], &m[r + 1]);
    if (!ok) /* not a SentencePiece-converted file: keep the merge order itself */
        for (int32_t i = 0; i < t->n_vocab; i++)
            if (t->entries[i].type == TOK_TYPE_NORMAL && first[i] != UINT32_MAX) t->entries[i].score = -(float)first[i];
    free(first);
    return 0;
}

/* ---- tokenizer_config.json ---- */

/* bos_token etc. are a string or {"content": string}; null means none. */
static int config_token(tok_tokenizer *t, const cJSON *cfg, const char *key, int32_t *out, const char *name,
                        char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v) return 0;
    if (cJSON_IsNull(v)) {
        *out = -1;
        return 0;
    }
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v))
        return tok_fail(err, errlen, "%s: %s: expected a string or {\"content\": string}", name, key);
    int32_t id = tok_find_piece(t, v->valuestring, strlen(v->valuestring));
    if (id < 0)
        return tok_fail(err, errlen, "%s: %s \"%.40s\" is not in the tokenizer's vocabulary", name, key, v->valuestring);
    *out = id;
    return 0;
}

static int load_config(tok_tokenizer *t, const char *tok_path, char *err, size_t errlen) {
    char path[4096];
    const char *slash = strrchr(tok_path, '/');
    int dir_len = slash ? (int)(slash - tok_path) : 1;
    if (snprintf(path, sizeof path, "%.*s/tokenizer_config.json", dir_len, slash ? tok_path : ".") >= (int)sizeof path)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) return 0; /* optional */
    size_t len;
    char *buf = fmt_read_file(path, TOK_MAX_FILE, &len, err, errlen);
    if (!buf) return -1;
    cJSON *cfg = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return tok_fail(err, errlen, "%s: not a JSON object", path);
    }
    int rc = config_token(t, cfg, "bos_token", &t->bos_id, path, err, errlen);
    if (rc == 0) rc = config_token(t, cfg, "eos_token", &t->eos_id, path, err, errlen);
    if (rc == 0) rc = config_token(t, cfg, "pad_token", &t->pad_id, path, err, errlen);
    t->add_bos = get_bool(cfg, "add_bos_token", t->add_bos);
    cJSON_Delete(cfg);
    return rc;
}

/* ---- entry points ---- */

static int check_model(const cJSON *model, const char *name, char *err, size_t errlen) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (ty && !(cJSON_IsString(ty) && !strcmp(ty->valuestring, "BPE")))
        return tok_fail(err, errlen, "%s: model.type: expected \"BPE\", found %s%.40s%s", name,
                        cJSON_IsString(ty) ? "\"" : "", cJSON_IsString(ty) ? ty->valuestring : "a non-string",
                        cJSON_IsString(ty) ? "\"" : "");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(d) && d->valuedouble > 0)
        return tok_fail(err, errlen, "%s: model.dropout: BPE dropout is not supported (found %g)", name, d->valuedouble);
    const char *affix[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, affix[i]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return tok_fail(err, errlen, "%s: model.%s is not supported (found \"%.20s\")", name, affix[i],
                            v->valuestring);
    }
    return 0;
}

static tok_tokenizer *build(const cJSON *root, const char *name, char *err, size_t errlen) {
    tok_tokenizer *t = NULL;
    merge_rec *recs = NULL;
    size_t n_recs = 0;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!cJSON_IsObject(model)) { tok_fail(err, errlen, "%s: missing \"model\" object", name); goto fail; }
    if (!cJSON_IsObject(vocab)) { tok_fail(err, errlen, "%s: missing model.vocab object", name); goto fail; }
    if (!cJSON_IsArray(merges)) { tok_fail(err, errlen, "%s: missing model.merges array", name); goto fail; }
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added)) {
        tok_fail(err, errlen, "%s: added_tokens: expected an array", name);
        goto fail;
    }
    if (pre && !cJSON_IsNull(pre)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pre, "type");
        tok_fail(err, errlen, "%s: pre_tokenizer \"%.30s\" is not supported (Llama/Phi-3 tokenizers have none)", name,
                 cJSON_IsString(ty) ? ty->valuestring : "?");
        goto fail;
    }
    if (check_model(model, name, err, errlen) != 0) goto fail;
    int32_t max_id = -1;
    if (scan_ids(vocab, cJSON_IsArray(added) ? added : NULL, name, &max_id, err, errlen) != 0) goto fail;
    t = tok_alloc(max_id + 1, "tokenizer.json");
    if (!t || tok_strmap_init(&t->bpe_vocab, (uint32_t)cJSON_GetArraySize(vocab)) != 0) goto oom;
    if (load_vocab(t, vocab, name, err, errlen) != 0) goto fail;
    if (load_merges(t, merges, &recs, &n_recs, name, err, errlen) != 0) goto fail;
    if (cJSON_IsArray(added) && load_added(t, added, name, err, errlen) != 0) goto fail;

    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        t->unk_id = tok_strmap_get(&t->bpe_vocab, t, unk->valuestring, strlen(unk->valuestring));
        if (t->unk_id < 0) {
            tok_fail(err, errlen, "%s: model.unk_token \"%.40s\" is not in model.vocab", name, unk->valuestring);
            goto fail;
        }
        if (!t->entries[t->unk_id].is_added) t->entries[t->unk_id].type = TOK_TYPE_UNKNOWN;
    }
    t->byte_fallback = get_bool(model, "byte_fallback", 0);
    t->fuse_unk = get_bool(model, "fuse_unk", 0);
    if (reconstruct_scores(t, recs, n_recs) != 0) goto oom;
    if (parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), name, 0, err, errlen) != 0 ||
        tok_norm_check(t, name, err, errlen) != 0)
        goto fail;
    t->strip_leading_space = decoder_strips(cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    if (tok_finish(t, name, err, errlen) != 0) goto fail;
    /* defaults when no tokenizer_config.json says otherwise */
    t->bos_id = tok_find_piece(t, "<s>", 3);
    t->eos_id = tok_find_piece(t, "<|endoftext|>", 13);
    if (t->eos_id < 0) t->eos_id = tok_find_piece(t, "</s>", 4);
    t->add_bos = 1;
    free(recs);
    return t;
oom:
    tok_fail(err, errlen, "%s: out of memory", name);
fail:
    free(recs);
    tok_destroy(t);
    return NULL;
}

tok_tokenizer *tok_load_json_mem(const char *data, size_t len, const char *name, char *err, size_t errlen) {
    if (!name) name = "tokenizer.json";
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = (at && at >= data && at <= data + len) ? (long)(at - data) : -1;
        tok_fail(err, errlen, "%s: not valid JSON (error near byte %ld)", name, off);
        return NULL;
    }
    tok_tokenizer *t = NULL;
    if (!cJSON_IsObject(root)) tok_fail(err, errlen, "%s: expected a JSON object at the top level", name);
    else t = build(root, name, err, errlen);
    cJSON_Delete(root);
    return t;
}

tok_tokenizer *tok_load_json(const char *path, char *err, size_t errlen) {
    size_t len;
    char *buf = fmt_read_file(path, TOK_MAX_FILE, &len, err, errlen);
    if (!buf) return NULL;
    tok_tokenizer *t = tok_load_json_mem(buf, len, path, err, errlen);
    free(buf);
    if (t && load_config(t, path, err, errlen) != 0) {
        tok_destroy(t);
        return NULL;
    }
    return t;
}

tok_tokenizer *tok_load_path(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        tok_fail(err, errlen, "%s: no such file or folder (--tokenizer takes a tokenizer.json, a folder with one, or a "
                 ".gguf)", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        char file[4096];
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/') n--;
        if (snprintf(file, sizeof file, "%.*s/tokenizer.json", (int)n, path) >= (int)sizeof file) {
            tok_fail(err, errlen, "%.200s...: path too long", path);
            return NULL;
        }
        if (stat(file, &st) != 0) {
            tok_fail(err, errlen,
                     "%s: no tokenizer.json in this folder (this model ships no tokenizer: pass --tokenizer PATH to "
                     "a tokenizer.json or a folder with one, e.g. microsoft/Phi-3-mini-4k-instruct's)", path);
            return NULL;
        }
        return tok_load_json(file, err, errlen);
    }
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4)) return tok_load_gguf_file(path, err, errlen);
    return tok_load_json(path, err, errlen);
}
