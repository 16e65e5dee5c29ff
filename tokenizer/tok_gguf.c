/* GGUF tokenizer.ggml.* -> tok_create_spm. */
#include "tokenizer/tok_gguf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Optional integer key: *out keeps its default when the key is absent. */
static int opt_id(const fmt_gguf *g, const char *key, int32_t *out, char *err, size_t errlen) {
    if (fmt_gguf_find_key(g, key) < 0) return 0;
    uint32_t v;
    if (fmt_gguf_get_u32(g, key, &v, err, errlen) != 0) return -1;
    *out = v >= (uint32_t)TOK_MAX_VOCAB ? TOK_MAX_VOCAB : (int32_t)v; /* out of range: tok_create_spm says so */
    return 0;
}

static int opt_bool(const fmt_gguf *g, const char *key, int *out, char *err, size_t errlen) {
    if (fmt_gguf_find_key(g, key) < 0) return 0;
    return fmt_gguf_get_bool(g, key, out, err, errlen);
}

/* llama.cpp sets rstrip on Phi-3's added tokens by model name. */
static int is_phi3(const fmt_gguf *g) {
    const char *s;
    if (fmt_gguf_find_key(g, "general.architecture") >= 0 &&
        fmt_gguf_get_str(g, "general.architecture", &s, NULL, NULL, 0) == 0 && !strcmp(s, "phi3"))
        return 1;
    if (fmt_gguf_find_key(g, "general.name") < 0 || fmt_gguf_get_str(g, "general.name", &s, NULL, NULL, 0) != 0)
        return 0;
    char low[256];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = 0;
    return strstr(low, "phi3") || strstr(low, "phi-3");
}

static int piece_is(const char *s, uint32_t n, const char *lit) { return n == strlen(lit) && !memcmp(s, lit, n); }

tok_tokenizer *tok_load_gguf(const fmt_gguf *g, char *err, size_t errlen) {
    const char *name = fmt_gguf_path(g);
    const char *model;
    if (fmt_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL, err, errlen) != 0) return NULL;
    if (strcmp(model, "llama") != 0) {
        tok_fail(err, errlen, "%s: tokenizer.ggml.model is \"%.30s\": expected \"llama\" (SentencePiece BPE)", name,
                 model);
        return NULL;
    }
    fmt_gguf_arr toks, scores, types;
    if (fmt_gguf_get_arr(g, "tokenizer.ggml.tokens", FMT_GGUF_STRING, &toks, err, errlen) != 0 ||
        fmt_gguf_get_arr(g, "tokenizer.ggml.scores", FMT_GGUF_TYPE_COUNT, &scores, err, errlen) != 0 ||
        fmt_gguf_get_arr(g, "tokenizer.ggml.token_type", FMT_GGUF_TYPE_COUNT, &types, err, errlen) != 0)
        return NULL;
    if (toks.n == 0 || toks.n >= TOK_MAX_VOCAB) {
        tok_fail(err, errlen, "%s: tokenizer.ggml.tokens has %llu entries: expected 1 .. %d", name,
                 (unsigned long long)toks.n, TOK_MAX_VOCAB - 1);
        return NULL;
    }
    if (scores.n != toks.n || types.n != toks.n) {
        tok_fail(err, errlen, "%s: tokenizer.ggml.scores (%llu) and token_type (%llu) must have one entry per token (%llu)",
                 name, (unsigned long long)scores.n, (unsigned long long)types.n, (unsigned long long)toks.n);
        return NULL;
    }
    if (fmt_gguf_type_size(scores.type) == 0 || fmt_gguf_type_size(types.type) == 0) {
        tok_fail(err, errlen, "%s: tokenizer.ggml.scores / token_type: expected numeric arrays, found %s / %s", name,
                 fmt_gguf_type_name(scores.type), fmt_gguf_type_name(types.type));
        return NULL;
    }
    tok_spm_params p = {0};
    p.n_vocab = (int32_t)toks.n;
    p.bos_id = p.n_vocab > 1 ? 1 : -1; /* llama.cpp's SentencePiece defaults */
    p.eos_id = p.n_vocab > 2 ? 2 : -1;
    p.unk_id = 0;
    p.pad_id = -1;
    p.add_bos = 1;
    p.name = name;
    int space_prefix = 1;
    if (opt_id(g, "tokenizer.ggml.bos_token_id", &p.bos_id, err, errlen) ||
        opt_id(g, "tokenizer.ggml.eos_token_id", &p.eos_id, err, errlen) ||
        opt_id(g, "tokenizer.ggml.unknown_token_id", &p.unk_id, err, errlen) ||
        opt_id(g, "tokenizer.ggml.padding_token_id", &p.pad_id, err, errlen) ||
        opt_bool(g, "tokenizer.ggml.add_bos_token", &p.add_bos, err, errlen) ||
        opt_bool(g, "tokenizer.ggml.add_space_prefix", &space_prefix, err, errlen))
        return NULL;
    p.no_space_prefix = !space_prefix;

    const char **pieces = malloc(toks.n * sizeof *pieces);
    uint32_t *lens = malloc(toks.n * sizeof *lens);
    float *sc = malloc(toks.n * sizeof *sc);
    int32_t *ty = malloc(toks.n * sizeof *ty);
    uint8_t *flags = calloc(toks.n, 1);
    tok_tokenizer *t = NULL;
    if (!pieces || !lens || !sc || !ty || !flags) {
        tok_fail(err, errlen, "%s: out of memory reading the tokenizer", name);
        goto done;
    }
    int phi3 = is_phi3(g);
    for (uint64_t i = 0; i < toks.n; i++) {
        uint64_t len = 0;
        if (fmt_gguf_arr_str(&toks, i, &pieces[i], &len) != 0 || len > TOK_MAX_PIECE_LEN) {
            tok_fail(err, errlen, "%s: tokenizer.ggml.tokens[%llu]: unreadable, or %llu bytes long (at most %d allowed)",
                     name, (unsigned long long)i, (unsigned long long)len, TOK_MAX_PIECE_LEN);
            goto done;
        }
        lens[i] = (uint32_t)len;
        sc[i] = fmt_gguf_arr_f32(&scores, i);
        int64_t v = fmt_gguf_arr_i64(&types, i);
        ty[i] = v < 0 || v > 100 ? 100 : (int32_t)v; /* out of range: tok_create_spm names it */
        if (phi3 && (ty[i] == TOK_TYPE_CONTROL || ty[i] == TOK_TYPE_USER_DEFINED) &&
            !piece_is(pieces[i], lens[i], "<unk>") && !piece_is(pieces[i], lens[i], "<s>") &&
            !piece_is(pieces[i], lens[i], "<|endoftext|>"))
            flags[i] = TOK_ADDED_RSTRIP;
    }
    p.pieces = pieces;
    p.lens = lens;
    p.scores = sc;
    p.types = ty;
    p.added_flags = flags;
    t = tok_create_spm(&p, err, errlen);
done:
    free(pieces);
    free(lens);
    free(sc);
    free(ty);
    free(flags);
    return t;
}

tok_tokenizer *tok_load_gguf_file(const char *path, char *err, size_t errlen) {
    fmt_gguf *g = fmt_gguf_open(path, err, errlen);
    if (!g) return NULL;
    tok_tokenizer *t = tok_load_gguf(g, err, errlen);
    fmt_gguf_close(g);
    return t;
}
