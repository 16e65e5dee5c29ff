/* Encoding: added-token split -> per-segment normalizer -> BPE.
 * Mirrors Hugging Face tokenizers (AddedVocabulary::find_matches,
 * models/bpe merge_word + Word::merge_all) step by step; comments name the
 * places where the order of operations matters for identical ids. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* One BPE symbol of a word being merged (a doubly linked list over an array). */
typedef struct sym {
    int32_t id;    /* current piece id */
    int32_t prev;  /* index of the previous live symbol, -1 at the start */
    int32_t next;  /* index of the next live symbol, -1 at the end */
    int32_t dead;  /* 1 once merged into its left neighbour */
} sym;

/* A candidate merge of symbols[pos] with its right neighbour. */
typedef struct cand {
    uint32_t rank;
    uint32_t pos;
    int32_t id;    /* expected result: a stale entry no longer matches */
} cand;

/* Scratch buffers reused across the segments of one tok_encode call. */
typedef struct enc {
    const tok_tokenizer *t;
    tok_ids *out;
    char *nbuf[2];          /* normalizer ping-pong buffers */
    size_t ncap[2];
    sym *syms;
    size_t syms_cap;
    cand *heap;
    size_t heap_cap;
} enc;

/* ---- BPE on one word ---- */

static int cand_less(const cand *a, const cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0];
    cand last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        size_t m = (l + 1 < *n && cand_less(&h[l + 1], &h[l])) ? l + 1 : l;
        if (!cand_less(&h[m], &last)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void add_sym(sym *s, size_t *n, int32_t id) {
    s[*n].id = id;
    s[*n].prev = (int32_t)*n - 1;
    s[*n].next = (int32_t)*n + 1;
    s[*n].dead = 0;
    (*n)++;
}

/* Unknown character c[0, len): byte pieces if all exist (HF byte_fallback),
 * else one <unk> (consecutive ones fused when fuse_unk). *unk_pending holds a
 * fused <unk> not yet emitted; like HF, byte-fallback pieces do not flush it. */
static void add_unknown(const tok_tokenizer *t, sym *s, size_t *n, const unsigned char *c, size_t len,
                        int *unk_pending) {
    if (t->byte_fallback) {
        size_t k = 0;
        while (k < len && t->byte_ids[c[k]] >= 0) k++;
        if (k == len) {
            for (k = 0; k < len; k++) add_sym(s, n, t->byte_ids[c[k]]);
            return;
        }
    }
    if (t->unk_id < 0) return; /* HF drops the character when there is no unk token */
    if (*unk_pending && t->fuse_unk) return;
    if (*unk_pending) add_sym(s, n, t->unk_id);
    *unk_pending = 1;
}

static int bpe_word(enc *e, const unsigned char *w, size_t n) {
    const tok_tokenizer *t = e->t;
    /* at most 4 symbols per byte (an invalid byte -> 1 byte piece; a 4-byte
     * character -> 4 byte pieces), so n symbols suffice */
    if (tok_grow((void **)&e->syms, &e->syms_cap, n + 1, sizeof(sym)) != 0) return -1;
    sym *s = e->syms;
    size_t m = 0;
    int unk_pending = 0;
    for (size_t i = 0; i < n;) {
        int32_t id;
        size_t len;
        if (w[i] < 0x80) {
            id = t->ascii_ids[w[i]];
            len = 1;
        } else {
            uint32_t cp;
            int l = tok_utf8_next(w + i, n - i, &cp);
            len = l > 0 ? (size_t)l : 1; /* an invalid byte is a character of its own */
            id = l > 0 ? tok_strmap_get(&t->bpe_vocab, t, (const char *)w + i, len) : -1;
        }
        if (id >= 0) {
            if (unk_pending) add_sym(s, &m, t->unk_id);
            unk_pending = 0;
            add_sym(s, &m, id);
        } else {
            add_unknown(t, s, &m, w + i, len, &unk_pending);
        }
        i += len;
    }
    if (unk_pending) add_sym(s, &m, t->unk_id);
    if (m == 0) return 0;
    s[m - 1].next = -1;

    /* merge lowest rank first, leftmost among equal ranks (HF Word::merge_all) */
    if (m > 1) {
        if (tok_grow((void **)&e->heap, &e->heap_cap, 3 * m, sizeof(cand)) != 0) return -1;
        cand *h = e->heap;
        size_t hn = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            const tok_merge_slot *ms = tok_mergemap_get(&t->merges, s[i].id, s[i + 1].id);
            if (ms) heap_push(h, &hn, (cand){ms->rank, (uint32_t)i, ms->id});
        }
        while (hn > 0) {
            cand c = heap_pop(h, &hn);
            sym *a = &s[c.pos];
            if (a->dead || a->next < 0) continue;
            sym *b = &s[a->next];
            const tok_merge_slot *ms = tok_mergemap_get(&t->merges, a->id, b->id);
            if (!ms || ms->id != c.id) continue; /* stale */
            a->id = c.id;
            b->dead = 1;
            a->next = b->next;
            if (b->next >= 0) s[b->next].prev = (int32_t)c.pos;
            if (a->prev >= 0) {
                ms = tok_mergemap_get(&t->merges, s[a->prev].id, a->id);
                if (ms) heap_push(h, &hn, (cand){ms->rank, (uint32_t)a->prev, ms->id});
            }
            if (a->next >= 0) {
                ms = tok_mergemap_get(&t->merges, a->id, s[a->next].id);
                if (ms) heap_push(h, &hn, (cand){ms->rank, c.pos, ms->id});
            }
        }
    }
    for (int32_t i = 0; i >= 0; i = s[i].next)
        if (tok_ids_push(e->out, s[i].id) != 0) return -1;
    return 0;
}

/* BPE over a normalized segment, per word when that is exact (see
 * merges_stay_in_words): a word ends before a "▁" that follows another
 * character, so "▁a▁▁b" -> "▁a", "▁▁b". */
static int bpe_text(enc *e, const char *s, size_t n) {
    if (!e->t->word_split) return bpe_word(e, (const unsigned char *)s, n);
    size_t start = 0, k = 1;
    while (k + 3 <= n) {
        const char *hit = memchr(s + k, 0xE2, n - k - 2);
        if (!hit) break;
        k = (size_t)(hit - s);
        if (memcmp(s + k, TOK_SPACE_MARK, 3) == 0 && (k < 3 || memcmp(s + k - 3, TOK_SPACE_MARK, 3) != 0)) {
            if (bpe_word(e, (const unsigned char *)s + start, k - start) != 0) return -1;
            start = k;
        }
        k++;
    }
    return bpe_word(e, (const unsigned char *)s + start, n - start);
}

/* ---- added-token matching ---- */

/* Word characters for single_word tokens: ASCII alphanumerics, '_' and any
 * non-ASCII non-space character (an approximation of Unicode \w). */
static int is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    return !tok_is_space(cp);
}

/* Code point of the character ending at s[end) (0 if invalid). */
static uint32_t char_before(const unsigned char *s, size_t end, size_t *start) {
    size_t b = end;
    while (b > 0 && end - b < 4) {
        b--;
        if ((s[b] & 0xC0) != 0x80) break;
    }
    uint32_t cp;
    int l = tok_utf8_next(s + b, end - b, &cp);
    if (l <= 0 || (size_t)l != end - b) {
        *start = end - 1;
        return s[end - 1] < 0x80 ? s[end - 1] : 0;
    }
    *start = b;
    return cp;
}

static size_t space_run_after(const unsigned char *s, size_t n, size_t p) {
    size_t q = p;
    while (q < n) {
        uint32_t cp;
        int l = tok_utf8_next(s + q, n - q, &cp);
        if (l <= 0 || !tok_is_space(cp)) break;
        q += (size_t)l;
    }
    return q;
}

static size_t space_run_before(const unsigned char *s, size_t p, size_t floor) {
    while (p > floor) {
        size_t b;
        uint32_t cp = char_before(s, p, &b);
        if (b < floor || !tok_is_space(cp)) break;
        p = b;
    }
    return p;
}

/* Protected byte ranges [lo, hi) where special tokens are not matched. */
typedef struct prot {
    const size_t *r;  /* pairs lo, hi, ascending */
    size_t n;         /* number of pairs */
    int all;          /* the whole text is protected */
} prot;

static int is_protected(const prot *p, size_t pos) {
    if (p->all) return 1;
    for (size_t i = 0; i < p->n; i++)
        if (pos >= p->r[2 * i] && pos < p->r[2 * i + 1]) return 1;
    return 0;
}

/* Leftmost-longest match at or after `from`; returns 1 and the match. Among
 * patterns of the same text the lowest id wins, except that a special one
 * inside a protected range is no candidate. Walks the trie from each start:
 * at most the longest pattern's length steps per position. */
static int find_added(const tok_matcher *m, const unsigned char *s, size_t n, size_t from, const prot *pr,
                      size_t *mstart, const tok_added_pat **pat) {
    if (m->n == 0) return 0;
    for (size_t p = from; p < n; p++) {
        uint32_t node = tok_trie_child(m, 0, s[p]);
        if (!node) continue;
        int prot_here = -1;
        const tok_added_pat *best = NULL;
        for (size_t q = p + 1;; q++) {
            int32_t sp = m->special[node], pl = m->plain[node];
            if (sp >= 0) {
                if (prot_here < 0) prot_here = is_protected(pr, p);
                if (prot_here) sp = -1;
            }
            int32_t pick = sp < 0 ? pl : pl < 0 ? sp : m->pats[sp].id < m->pats[pl].id ? sp : pl;
            if (pick >= 0) best = &m->pats[pick];
            if (q >= n || !(node = tok_trie_child(m, node, s[q]))) break;
        }
        if (best) {
            *mstart = p;
            *pat = best;
            return 1;
        }
    }
    return 0;
}

typedef int (*segment_fn)(enc *e, const char *s, size_t n, const prot *pr);

/* Splits s by the matcher's tokens (HF find_matches): ids are pushed, gaps go
 * to fn. lstrip/rstrip extend a match over neighbouring whitespace. Two
 * corner cases differ from HF and need overlapping added tokens (Phi-3 has
 * none): the search resumes after the rstrip-extended end (HF resumes after
 * the match and could match again inside the swallowed whitespace), and a
 * protected special token is not a candidate at all (HF matches it, then
 * drops it, which also hides a shorter non-special token at that place). */
static int split_added(enc *e, const tok_matcher *m, const char *text, size_t n, const prot *pr, segment_fn fn) {
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0, scan = 0, ms;
    const tok_added_pat *a;
    while (find_added(m, s, n, scan, pr, &ms, &a)) {
        size_t start = ms, stop = ms + a->len;
        if (a->flags & TOK_ADDED_SINGLE_WORD) {
            size_t b;
            int word_before = start > 0 && is_word_char(char_before(s, start, &b));
            uint32_t cp = 0;
            if (stop < n) tok_utf8_next(s + stop, n - stop, &cp); /* invalid: cp = the byte */
            int word_after = stop < n && is_word_char(cp);
            if (word_before || word_after) { /* HF skips the match and goes on after it */
                scan = stop;
                continue;
            }
        }
        if (a->flags & TOK_ADDED_LSTRIP) start = space_run_before(s, start, pos);
        if (a->flags & TOK_ADDED_RSTRIP) stop = space_run_after(s, n, stop);
        if (start > pos && fn(e, text + pos, start - pos, pr) != 0) return -1;
        if (tok_ids_push(e->out, a->id) != 0) return -1;
        pos = scan = stop;
    }
    if (pos < n && fn(e, text + pos, n - pos, pr) != 0) return -1;
    return 0;
}

static int normalized_piece(enc *e, const char *s, size_t n, const prot *pr) {
    (void)pr;
    return bpe_text(e, s, n);
}

/* A raw-text gap between added tokens: normalize it on its own (so it gets its
 * own "▁" prefix), then match normalized added tokens, then BPE. */
static int raw_segment(enc *e, const char *s, size_t n, const prot *pr) {
    const tok_tokenizer *t = e->t;
    const char *ns;
    size_t nn;
    if (tok_normalize_into(t, s, n, e->nbuf, e->ncap, &ns, &nn) != 0) return -1;
    if (t->norm_added.n == 0) return bpe_text(e, ns, nn);
    /* positions changed: normalized added tokens see the segment as protected
     * if the whole text is */
    prot p2 = {NULL, 0, pr->all};
    return split_added(e, &t->norm_added, ns, nn, &p2, normalized_piece);
}

int tok_encode_prot(const tok_tokenizer *t, const char *text, size_t len, unsigned flags, const size_t *prot_ranges,
                    size_t n_prot, tok_ids *out, char *err, size_t errlen) {
    if (flags & TOK_ENCODE_BOS) {
        if (t->bos_id < 0) return tok_fail(err, errlen, "tokenizer has no BOS token (bos_token not set)");
        if (tok_ids_push(out, t->bos_id) != 0) return tok_fail(err, errlen, "out of memory encoding %zu bytes", len);
    }
    enc e = {0};
    e.t = t;
    e.out = out;
    prot pr = {prot_ranges, n_prot, (flags & TOK_ENCODE_SPECIAL_AS_TEXT) != 0};
    int rc = split_added(&e, &t->raw_added, text ? text : "", text ? len : 0, &pr, raw_segment);
    free(e.nbuf[0]);
    free(e.nbuf[1]);
    free(e.syms);
    free(e.heap);
    if (rc != 0) return tok_fail(err, errlen, "out of memory encoding %zu bytes", len);
    return 0;
}

int tok_encode(const tok_tokenizer *t, const char *text, size_t len, unsigned flags, tok_ids *out, char *err,
               size_t errlen) {
    return tok_encode_prot(t, text, len, flags, NULL, 0, out, err, errlen);
}
