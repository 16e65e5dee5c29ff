/* SentencePiece-BPE vocabulary (GGUF tokenizer.ggml.*) -> tokenizer.
 * The merges are derived from the vocabulary the way Hugging Face's
 * converter derives tokenizer.json merges from a SentencePiece model, so the
 * same BPE engine gives the same ids from either source. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* A merge candidate: piece id = left + right. */
typedef struct spm_merge {
    float score;  /* score of the merged piece (NaN mapped to -inf) */
    int32_t id, a, b;
} spm_merge;

static int merge_cmp(const void *pa, const void *pb) {
    const spm_merge *x = pa, *y = pb;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    return (x->b > y->b) - (x->b < y->b);
}

/* Every split of every NORMAL piece into two NORMAL pieces, ranked by
 * (score desc, id, left, right). Costs pieces x TOK_MAX_PIECE_LEN^2 at most.
 * -1 when out of memory, -2 past TOK_MAX_MERGES. */
static int derive_merges(tok_tokenizer *t) {
    size_t cap = 1024, n = 0;
    spm_merge *m = malloc(cap * sizeof *m);
    if (!m) return -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const tok_entry *e = &t->entries[id];
        if (e->type != TOK_TYPE_NORMAL || e->len < 2) continue;
        if (tok_strmap_get(&t->bpe_vocab, t, tok_text(t, id), e->len) != id) continue; /* duplicate text */
        const char *s = tok_text(t, id);
        for (uint32_t k = 1; k < e->len; k++) {
            if (((unsigned char)s[k] & 0xC0) == 0x80) continue; /* split at character boundaries */
            int32_t a = tok_strmap_get(&t->bpe_vocab, t, s, k);
            if (a < 0) continue;
            int32_t b = tok_strmap_get(&t->bpe_vocab, t, s + k, e->len - k);
            if (b < 0) continue;
            if (n == TOK_MAX_MERGES) {
                free(m);
                return -2;
            }
            if (n == cap) {
                cap *= 2;
                spm_merge *p = realloc(m, cap * sizeof *m);
                if (!p) {
                    free(m);
                    return -1;
                }
                m = p;
            }
            float sc = e->score;
            m[n++] = (spm_merge){isnan(sc) ? -INFINITY : sc, id, a, b};
        }
    }
    qsort(m, n, sizeof *m, merge_cmp);
    int rc = tok_mergemap_init(&t->merges, (uint32_t)n);
    for (size_t r = 0; r < n && rc == 0; r++) rc = tok_mergemap_put(&t->merges, m[r].a, m[r].b, (uint32_t)r, m[r].id);
    free(m);
    return rc;
}

static int check_id(int32_t id, int32_t n, const char *what, const char *name, char *err, size_t errlen) {
    if (id >= -1 && id < n) return 0;
    return tok_fail(err, errlen, "%s: %s %d is outside the vocabulary [0, %d)", name, what, id, n);
}

tok_tokenizer *tok_create_spm(const tok_spm_params *p, char *err, size_t errlen) {
    const char *name = p && p->name ? p->name : "SentencePiece vocabulary";
    if (!p || !p->pieces || !p->scores || !p->types) {
        tok_fail(err, errlen, "%s: pieces, scores and token types are all required", name);
        return NULL;
    }
    if (p->n_vocab < 1 || p->n_vocab >= TOK_MAX_VOCAB) {
        tok_fail(err, errlen, "%s: %d tokens: expected 1 .. %d", name, p->n_vocab, TOK_MAX_VOCAB - 1);
        return NULL;
    }
    int32_t n = p->n_vocab;
    if (check_id(p->bos_id, n, "bos id", name, err, errlen) || check_id(p->eos_id, n, "eos id", name, err, errlen) ||
        check_id(p->unk_id, n, "unknown-token id", name, err, errlen) ||
        check_id(p->pad_id, n, "padding id", name, err, errlen))
        return NULL;
    tok_tokenizer *t = tok_alloc(n, "spm");
    if (!t || tok_strmap_init(&t->bpe_vocab, (uint32_t)n) != 0) goto oom;
    for (int32_t i = 0; i < n; i++) {
        const char *s = p->pieces[i] ? p->pieces[i] : "";
        size_t len = p->lens ? p->lens[i] : strlen(s);
        int type = p->types[i];
        tok_entry *e = &t->entries[i];
        if (type < TOK_TYPE_NORMAL || type > TOK_TYPE_BYTE) {
            tok_fail(err, errlen, "%s: token %d (\"%.*s\"): token type %d: expected 1 .. 6", name, i,
                     (int)(len > 40 ? 40 : len), s, type);
            goto fail;
        }
        if (len > TOK_MAX_PIECE_LEN) {
            tok_fail(err, errlen, "%s: token %d: %zu bytes long, at most %d allowed for a piece", name, i, len,
                     TOK_MAX_PIECE_LEN);
            goto fail;
        }
        if (tok_set_text(t, i, s, len) != 0) goto oom;
        e->type = (uint8_t)type;
        e->score = p->scores[i];
        if (type == TOK_TYPE_BYTE) {
            int byte = tok_parse_byte_piece(s, len);
            if (byte < 0) {
                tok_fail(err, errlen, "%s: token %d: a BYTE token must be <0xNN>, found \"%.*s\"", name, i,
                         (int)(len > 40 ? 40 : len), s);
                goto fail;
            }
            e->byte = (uint8_t)byte;
        } else if (type == TOK_TYPE_NORMAL) {
            if (len > 0 && tok_strmap_put(&t->bpe_vocab, t, i) == -2) goto oom;
        } else if (type == TOK_TYPE_CONTROL || type == TOK_TYPE_USER_DEFINED || i == p->unk_id) {
            unsigned f = p->added_flags ? p->added_flags[i] & (TOK_ADDED_LSTRIP | TOK_ADDED_RSTRIP | TOK_ADDED_SINGLE_WORD) : 0;
            if (type != TOK_TYPE_USER_DEFINED) f |= TOK_ADDED_SPECIAL;
            e->is_added = 1;
            e->added = (uint8_t)f;
        }
    }
    t->unk_id = p->unk_id;
    t->bos_id = p->bos_id;
    t->eos_id = p->eos_id;
    t->pad_id = p->pad_id;
    t->add_bos = p->add_bos;
    t->byte_fallback = 1;
    t->fuse_unk = 1;
    t->strip_leading_space = 1;
    /* Llama/Phi-3 normalization: "▁" prefix, spaces -> "▁" */
    t->norm = calloc(2, sizeof *t->norm);
    if (!t->norm) goto oom;
    t->n_norm = 2;
    t->norm[0] = (tok_norm_op){TOK_NORM_REPLACE, malloc(2), 1, malloc(4), 3};
    t->norm[1] = (tok_norm_op){TOK_NORM_PREPEND, malloc(4), 3, NULL, 0};
    if (!t->norm[0].a || !t->norm[0].b || !t->norm[1].a) goto oom;
    memcpy(t->norm[0].a, " ", 2);
    memcpy(t->norm[0].b, TOK_SPACE_MARK, 4);
    memcpy(t->norm[1].a, TOK_SPACE_MARK, 4);
    if (p->no_space_prefix) { /* add_space_prefix false: no "▁" in front of segments */
        free(t->norm[1].a);
        t->n_norm = 1;
    }
    int drc = derive_merges(t);
    if (drc == -2) {
        tok_fail(err, errlen, "%s: the vocabulary splits into more than %u merges", name, TOK_MAX_MERGES);
        goto fail;
    }
    if (drc != 0) goto oom;
    if (tok_finish(t, name, err, errlen) != 0) goto fail;
    return t;
oom:
    tok_fail(err, errlen, "%s: out of memory building the tokenizer", name);
fail:
    tok_destroy(t);
    return NULL;
}
