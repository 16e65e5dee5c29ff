/* Internals shared by tokenizer/tok_*.c. Not part of the public API. */
#ifndef PHI3VK_TOKENIZER_TOK_INTERNAL_H
#define PHI3VK_TOKENIZER_TOK_INTERNAL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok.h"

#define TOK_MAX_VOCAB (1 << 21) /* ids must be below this (largest real vocabs ~256k) */
/* Bounds that make a hostile tokenizer cheap to reject (issue 14). Deriving
 * merges costs pieces x length^2 and added-token matching text x length, so
 * pieces are short: the longest Phi-3 piece is 48 bytes (16 characters,
 * SentencePiece's default max_sentencepiece_length). */
#define TOK_MAX_PIECE_LEN 128        /* bytes of a vocabulary piece or added token */
#define TOK_MAX_MERGES (1u << 22)    /* merges (Phi-3: 61k, the largest BPE vocabularies ~300k) */
#define TOK_MAX_NORM_STEPS 16        /* Prepend / Replace steps (Phi-3: 2) */
#define TOK_NORM_MAX_GROWTH 8        /* a normalized text is at most 8x its input... */
#define TOK_NORM_MAX_EXTRA 1024      /* ...plus this many bytes (Phi-3: 3x + 3) */
#define TOK_SPACE_MARK "\xE2\x96\x81" /* U+2581 "▁", SentencePiece's space */

/* One piece of the vocabulary, indexed by id. */
typedef struct tok_entry {
    uint32_t off;     /* start of the text in tok_tokenizer.pool */
    uint32_t len;     /* text bytes */
    float score;      /* see tok_vocab_get */
    uint8_t type;     /* enum tok_type */
    uint8_t added;    /* enum tok_added_flag; nonzero only for added tokens */
    uint8_t is_added; /* 1: matched as a whole string before BPE */
    uint8_t byte;     /* byte value for TOK_TYPE_BYTE pieces */
} tok_entry;

/* Open-addressing map from byte strings (in the pool) to ids. */
typedef struct tok_strmap {
    int32_t *slots;   /* [cap] id, or -1 for empty */
    uint32_t cap;     /* power of two */
    uint32_t n;       /* entries */
} tok_strmap;

/* Open-addressing map from an id pair to a merge. */
typedef struct tok_merge_slot {
    uint64_t key;     /* (left id << 32) | right id; UINT64_MAX = empty */
    uint32_t rank;    /* lower merges first */
    int32_t id;       /* id of the merged piece */
} tok_merge_slot;

typedef struct tok_mergemap {
    tok_merge_slot *slots; /* [cap] */
    uint32_t cap;          /* power of two */
    uint32_t n;            /* entries */
} tok_mergemap;

/* One normalizer step, applied in order to every text segment. */
typedef struct tok_norm_op {
    int kind;          /* TOK_NORM_PREPEND or TOK_NORM_REPLACE */
    char *a;           /* prepend text, or the replaced pattern (non-empty) */
    size_t alen;
    char *b;           /* replacement (REPLACE only) */
    size_t blen;
} tok_norm_op;
enum { TOK_NORM_PREPEND = 1, TOK_NORM_REPLACE = 2 };

/* An added token as the matcher sees it. */
typedef struct tok_added_pat {
    const char *text;  /* pattern: content, normalized for TOK_ADDED_NORMALIZED */
    size_t len;
    int32_t id;
    unsigned flags;    /* enum tok_added_flag */
} tok_added_pat;

/* A set of added-token patterns in a trie over their bytes, so finding the
 * longest match at a position costs at most the longest pattern's length,
 * however many patterns share a prefix. Node 0 is the root; node k's
 * patterns are those whose text spells the path to k. */
typedef struct tok_matcher {
    tok_added_pat *pats;   /* [n] sorted by text, then id */
    size_t n;
    int32_t *plain;        /* [n_nodes] lowest-id non-special pattern ending at the node, or -1 */
    int32_t *special;      /* [n_nodes] lowest-id special pattern ending at the node, or -1 */
    uint32_t n_nodes, node_cap;
    uint64_t *edge_key;    /* [edge_cap] (node << 8 | byte) + 1; 0 = empty slot */
    uint32_t *edge_child;  /* [edge_cap] */
    uint32_t edge_cap, n_edges;
} tok_matcher;

/* The child of node along byte b, or 0 when there is none (the root is
 * never a child). */
static inline uint32_t tok_trie_child(const tok_matcher *m, uint32_t node, unsigned char b) {
    if (!m->edge_cap) return 0;
    uint64_t key = ((uint64_t)node << 8 | b) + 1;
    uint32_t mask = m->edge_cap - 1;
    for (uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;; i = (i + 1) & mask) {
        if (m->edge_key[i] == key) return m->edge_child[i];
        if (!m->edge_key[i]) return 0;
    }
}

struct tok_tokenizer {
    char kind[16];          /* "tokenizer.json" or "spm" */
    int32_t n_vocab;
    tok_entry *entries;     /* [n_vocab] */
    char *pool;             /* piece texts, each NUL-terminated */
    size_t pool_len, pool_cap;
    tok_strmap bpe_vocab;   /* BPE symbols: model.vocab / NORMAL pieces */
    tok_strmap all_pieces;  /* every piece incl. added tokens (tok_find_piece) */
    tok_mergemap merges;
    int32_t ascii_ids[128]; /* BPE id of each 1-byte character, -1 if none */
    int32_t byte_ids[256];  /* <0xNN> ids, -1 if missing */
    int byte_fallback;      /* use byte_ids for unknown characters */
    int fuse_unk;           /* consecutive unknown characters give one unk */
    int32_t unk_id, bos_id, eos_id, pad_id;
    int add_bos;
    int word_split;         /* merges never cross "x▁" boundaries: BPE may run per word */
    int strip_leading_space;/* decoder strips one leading space */
    tok_norm_op *norm;      /* [n_norm] */
    size_t n_norm;
    tok_matcher raw_added;  /* added tokens matched in the raw text */
    tok_matcher norm_added; /* normalized added tokens matched after normalization */
};

/* printf into err (if errlen > 0); always returns -1 for `return tok_fail(...)`. */
int tok_fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- tok_core.c: construction helpers used by both loaders ---- */

/* Allocates a zeroed tokenizer with n_vocab UNUSED entries (text ""). */
tok_tokenizer *tok_alloc(int32_t n_vocab, const char *kind);
/* Copies text into the pool and sets entry id's text. -1 on OOM. */
int tok_set_text(tok_tokenizer *t, int32_t id, const char *text, size_t len);
static inline const char *tok_text(const tok_tokenizer *t, int32_t id) {
    return t->pool + t->entries[id].off;
}

uint64_t tok_hash_bytes(const char *s, size_t n);
/* Map of ids keyed by their piece text. */
int tok_strmap_init(tok_strmap *m, uint32_t expected);
void tok_strmap_free(tok_strmap *m);
/* Adds id under its text; keeps the existing id if the text is present
 * (returns that id), returns -2 on OOM, else -1 when newly added. */
int32_t tok_strmap_put(tok_strmap *m, const tok_tokenizer *t, int32_t id);
int32_t tok_strmap_get(const tok_strmap *m, const tok_tokenizer *t, const char *s, size_t n);

int tok_mergemap_init(tok_mergemap *m, uint32_t expected);
void tok_mergemap_free(tok_mergemap *m);
/* Sets (a, b) -> (rank, id), replacing an existing entry. -1 on OOM. */
int tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t id);
/* Returns the slot for (a, b) or NULL. */
static inline const tok_merge_slot *tok_mergemap_get(const tok_mergemap *m, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    for (;;) {
        const tok_merge_slot *s = &m->slots[i];
        if (s->key == key) return s;
        if (s->key == UINT64_MAX) return NULL;
        i = (i + 1) & mask;
    }
}

/* Parses "<0xNN>" (uppercase or lowercase hex); returns the byte or -1. */
int tok_parse_byte_piece(const char *s, size_t n);

/* Final steps shared by both loaders once entries, bpe_vocab, merges, the
 * normalizer and the added flags are set: builds all_pieces, ascii_ids,
 * byte_ids, the added-token matchers and decides word_split. */
int tok_finish(tok_tokenizer *t, const char *name, char *err, size_t errlen);

/* Checks the normalizer against the bounds above (steps, string lengths,
 * the worst-case growth of a text); -1 with err naming the step. */
int tok_norm_check(const tok_tokenizer *t, const char *name, char *err, size_t errlen);

/* ---- tok_encode.c ---- */

/* Applies the normalizer to s[0, n) into *buf (realloc'ed, capacity *cap);
 * sets *out_len. -1 on OOM. */
/* The same into two ping-pong buffers the caller keeps (freed by the caller):
 * *res points at the result, s itself when there is no normalizer. */
int tok_normalize_into(const tok_tokenizer *t, const char *s, size_t n, char *bufs[2], size_t caps[2],
                       const char **res, size_t *res_len);
int tok_normalize(const tok_tokenizer *t, const char *s, size_t n, char **buf, size_t *cap,
                  size_t *out_len);

/* tok_encode with byte ranges of text (pairs lo, hi, ascending) in which
 * special added tokens are not matched (chat message contents). */
int tok_encode_prot(const tok_tokenizer *t, const char *text, size_t len, unsigned flags,
                    const size_t *prot_ranges, size_t n_prot, tok_ids *out, char *err, size_t errlen);

/* ---- UTF-8 helpers (tok_core.c) ---- */

/* Length of the valid UTF-8 character at s[0, n) and its code point in *cp,
 * or 0 if the bytes there are not a valid character (then *cp = byte). */
int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Grows *p to hold need elements of elem bytes (doubling from 64); -1 when
 * out of memory (then *p is unchanged). */
int tok_grow(void **p, size_t *cap, size_t need, size_t elem);
/* Unicode White_Space property (what Rust's char::is_whitespace tests). */
int tok_is_space(uint32_t cp);

#endif
