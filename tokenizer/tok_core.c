/* Tokenizer construction shared by the tokenizer.json and SentencePiece
 * loaders: the piece table, hash maps, added-token matchers, accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* ---- allocation ---- */

tok_tokenizer *tok_alloc(int32_t n_vocab, const char *kind) {
    tok_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    t->n_vocab = n_vocab;
    t->entries = calloc((size_t)n_vocab, sizeof *t->entries);
    t->pool_cap = 1 << 16;
    t->pool = malloc(t->pool_cap);
    if (!t->entries || !t->pool) {
        tok_destroy(t);
        return NULL;
    }
    t->pool[0] = 0; /* every entry starts as "" at offset 0 */
    t->pool_len = 1;
    for (int32_t i = 0; i < n_vocab; i++) t->entries[i].type = TOK_TYPE_UNUSED;
    t->unk_id = t->bos_id = t->eos_id = t->pad_id = -1;
    t->strip_leading_space = 1;
    return t;
}

int tok_set_text(tok_tokenizer *t, int32_t id, const char *text, size_t len) {
    if (len > UINT32_MAX / 4 || t->pool_len + len + 1 > UINT32_MAX) return -1;
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap;
        while (cap < t->pool_len + len + 1) cap *= 2;
        char *p = realloc(t->pool, cap);
        if (!p) return -1;
        t->pool = p;
        t->pool_cap = cap;
    }
    memcpy(t->pool + t->pool_len, text, len);
    t->pool[t->pool_len + len] = 0;
    t->entries[id].off = (uint32_t)t->pool_len;
    t->entries[id].len = (uint32_t)len;
    t->pool_len += len + 1;
    return 0;
}

static void matcher_free(tok_matcher *m, int owns_text) {
    if (owns_text)
        for (size_t i = 0; i < m->n; i++) free((char *)m->pats[i].text);
    free(m->pats);
    free(m->plain);
    free(m->special);
    free(m->edge_key);
    free(m->edge_child);
    memset(m, 0, sizeof *m);
}

void tok_destroy(tok_tokenizer *t) {
    if (!t) return;
    matcher_free(&t->norm_added, 1);
    matcher_free(&t->raw_added, 0);
    for (size_t i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
    }
    free(t->norm);
    tok_mergemap_free(&t->merges);
    tok_strmap_free(&t->all_pieces);
    tok_strmap_free(&t->bpe_vocab);
    free(t->pool);
    free(t->entries);
    free(t);
}

/* ---- hash maps ---- */

uint64_t tok_hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ (n * 0x9E3779B97F4A7C15ull);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t c = 16;
    while (c < n) c *= 2;
    return c;
}

int tok_strmap_init(tok_strmap *m, uint32_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->n = 0;
    m->slots = malloc((size_t)m->cap * sizeof *m->slots);
    if (!m->slots) return -1;
    memset(m->slots, 0xFF, (size_t)m->cap * sizeof *m->slots);
    return 0;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

int32_t tok_strmap_get(const tok_strmap *m, const tok_tokenizer *t, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)tok_hash_bytes(s, n) & mask;
    for (;;) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        const tok_entry *e = &t->entries[id];
        if (e->len == n && memcmp(t->pool + e->off, s, n) == 0) return id;
        i = (i + 1) & mask;
    }
}

int32_t tok_strmap_put(tok_strmap *m, const tok_tokenizer *t, int32_t id) {
    if ((m->n + 1) * 2 > m->cap) { /* grow: keep the load factor <= 1/2 */
        tok_strmap bigger;
        if (tok_strmap_init(&bigger, m->cap) != 0) return -2;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->slots[i] >= 0) tok_strmap_put(&bigger, t, m->slots[i]);
        free(m->slots);
        *m = bigger;
    }
    const tok_entry *e = &t->entries[id];
    const char *s = t->pool + e->off;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)tok_hash_bytes(s, e->len) & mask;
    for (;;) {
        int32_t other = m->slots[i];
        if (other < 0) break;
        const tok_entry *o = &t->entries[other];
        if (o->len == e->len && memcmp(t->pool + o->off, s, e->len) == 0) return other;
        i = (i + 1) & mask;
    }
    m->slots[i] = id;
    m->n++;
    return -1;
}

int tok_mergemap_init(tok_mergemap *m, uint32_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->n = 0;
    m->slots = malloc((size_t)m->cap * sizeof *m->slots);
    if (!m->slots) return -1;
    for (uint32_t i = 0; i < m->cap; i++) m->slots[i].key = UINT64_MAX;
    return 0;
}

void tok_mergemap_free(tok_mergemap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

int tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    if ((m->n + 1) * 2 > m->cap) {
        tok_mergemap bigger;
        if (tok_mergemap_init(&bigger, m->cap) != 0) return -1;
        for (uint32_t i = 0; i < m->cap; i++) {
            const tok_merge_slot *s = &m->slots[i];
            if (s->key != UINT64_MAX)
                tok_mergemap_put(&bigger, (int32_t)(s->key >> 32), (int32_t)(uint32_t)s->key, s->rank, s->id);
        }
        free(m->slots);
        *m = bigger;
    }
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1;
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key) i = (i + 1) & mask;
    if (m->slots[i].key == UINT64_MAX) m->n++;
    m->slots[i].key = key;
    m->slots[i].rank = rank;
    m->slots[i].id = id;
    return 0;
}

int tok_parse_byte_piece(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* ---- added-token matchers ---- */

static int pat_cmp(const void *pa, const void *pb) {
    const tok_added_pat *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->text, b->text, n);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int edge_insert(tok_matcher *m, uint64_t key, uint32_t child);

/* Doubles the edge table (load factor <= 1/2). */
static int edges_grow(tok_matcher *m) {
    uint32_t old_cap = m->edge_cap, cap = old_cap ? old_cap * 2 : 64;
    uint64_t *ok = m->edge_key;
    uint32_t *oc = m->edge_child;
    m->edge_key = calloc(cap, sizeof *m->edge_key);
    m->edge_child = calloc(cap, sizeof *m->edge_child);
    if (!m->edge_key || !m->edge_child) {
        free(m->edge_key);
        free(m->edge_child);
        m->edge_key = ok, m->edge_child = oc;
        return -1;
    }
    m->edge_cap = cap;
    m->n_edges = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (ok[i]) edge_insert(m, ok[i], oc[i]);
    free(ok);
    free(oc);
    return 0;
}

static int edge_insert(tok_matcher *m, uint64_t key, uint32_t child) {
    if ((m->n_edges + 1) * 2 > m->edge_cap && edges_grow(m)) return -1;
    uint32_t mask = m->edge_cap - 1, i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (m->edge_key[i]) i = (i + 1) & mask;
    m->edge_key[i] = key;
    m->edge_child[i] = child;
    m->n_edges++;
    return 0;
}

/* A new node without patterns; its index, or 0 when out of memory. */
static uint32_t node_new(tok_matcher *m) {
    if (m->n_nodes == m->node_cap) {
        uint32_t cap = m->node_cap ? m->node_cap * 2 : 64;
        int32_t *p = realloc(m->plain, cap * sizeof *p);
        if (p) m->plain = p;
        int32_t *q = realloc(m->special, cap * sizeof *q);
        if (q) m->special = q;
        if (!p || !q) return 0;
        m->node_cap = cap;
    }
    m->plain[m->n_nodes] = m->special[m->n_nodes] = -1;
    return m->n_nodes++;
}

/* Sorts the patterns and builds the trie. Patterns of equal text keep the
 * lowest id of each kind (the sort puts it first). -1 when out of memory. */
static int matcher_index(tok_matcher *m) {
    qsort(m->pats, m->n, sizeof *m->pats, pat_cmp);
    if (node_new(m) != 0 || !m->plain) return -1; /* the root */
    for (size_t k = 0; k < m->n; k++) {
        const tok_added_pat *a = &m->pats[k];
        uint32_t node = 0;
        for (size_t i = 0; i < a->len; i++) {
            unsigned char b = (unsigned char)a->text[i];
            uint32_t next = tok_trie_child(m, node, b);
            if (!next) {
                if (!(next = node_new(m)) || edge_insert(m, ((uint64_t)node << 8 | b) + 1, next)) return -1;
            }
            node = next;
        }
        int32_t *slot = (a->flags & TOK_ADDED_SPECIAL) ? &m->special[node] : &m->plain[node];
        if (*slot < 0) *slot = (int32_t)k;
    }
    return 0;
}

/* Builds raw_added and norm_added from the entries marked is_added. */
static int build_matchers(tok_tokenizer *t) {
    size_t n_raw = 0, n_norm = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const tok_entry *e = &t->entries[i];
        if (!e->is_added || e->len == 0) continue;
        if (e->added & TOK_ADDED_NORMALIZED) n_norm++;
        else n_raw++;
    }
    t->raw_added.pats = calloc(n_raw + 1, sizeof(tok_added_pat));
    t->norm_added.pats = calloc(n_norm + 1, sizeof(tok_added_pat));
    if (!t->raw_added.pats || !t->norm_added.pats) return -1;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const tok_entry *e = &t->entries[i];
        if (!e->is_added || e->len == 0) continue;
        tok_added_pat p = {tok_text(t, i), e->len, i, e->added};
        if (e->added & TOK_ADDED_NORMALIZED) {
            /* HF matches these in normalized text, against normalized content */
            char *buf = NULL;
            size_t cap = 0, len = 0;
            if (tok_normalize(t, p.text, p.len, &buf, &cap, &len) != 0) {
                free(buf);
                return -1;
            }
            if (len == 0) { free(buf); continue; }
            p.text = buf;
            p.len = len;
            t->norm_added.pats[t->norm_added.n++] = p;
        } else {
            t->raw_added.pats[t->raw_added.n++] = p;
        }
    }
    return matcher_index(&t->raw_added) || matcher_index(&t->norm_added) ? -1 : 0;
}

/* Word splitting (BPE run separately on each "▁word") is exact when no merge
 * can produce a symbol containing a non-"▁" character followed by "▁": then
 * no merge crosses such a boundary and words evolve independently. */
static int merges_stay_in_words(const tok_tokenizer *t) {
    for (uint32_t i = 0; i < t->merges.cap; i++) {
        const tok_merge_slot *s = &t->merges.slots[i];
        if (s->key == UINT64_MAX) continue;
        int32_t a = (int32_t)(s->key >> 32), b = (int32_t)(uint32_t)s->key;
        if (t->entries[a].type == TOK_TYPE_BYTE || t->entries[b].type == TOK_TYPE_BYTE || a == t->unk_id ||
            b == t->unk_id)
            return 0;
        const char *p = tok_text(t, s->id);
        size_t n = t->entries[s->id].len;
        for (size_t k = 1; k + 3 <= n; k++) {
            if (memcmp(p + k, TOK_SPACE_MARK, 3) != 0) continue;
            if (k < 3 || memcmp(p + k - 3, TOK_SPACE_MARK, 3) != 0) return 0;
        }
    }
    return 1;
}

int tok_finish(tok_tokenizer *t, const char *name, char *err, size_t errlen) {
    if (tok_strmap_init(&t->all_pieces, (uint32_t)t->n_vocab) != 0) goto oom;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (t->entries[i].type == TOK_TYPE_UNUSED) continue;
        if (tok_strmap_put(&t->all_pieces, t, i) == -2) goto oom;
    }
    for (int c = 0; c < 128; c++) {
        char s = (char)c;
        t->ascii_ids[c] = tok_strmap_get(&t->bpe_vocab, t, &s, 1);
    }
    for (int b = 0; b < 256; b++) t->byte_ids[b] = -1;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const tok_entry *e = &t->entries[i];
        if (e->type == TOK_TYPE_BYTE && t->byte_ids[e->byte] < 0) t->byte_ids[e->byte] = i;
    }
    if (build_matchers(t) != 0) goto oom;
    t->word_split = merges_stay_in_words(t);
    return 0;
oom:
    return tok_fail(err, errlen, "%s: out of memory building the tokenizer", name);
}

/* ---- accessors ---- */

int32_t tok_n_vocab(const tok_tokenizer *t) { return t->n_vocab; }
int32_t tok_bos_id(const tok_tokenizer *t) { return t->bos_id; }
int32_t tok_eos_id(const tok_tokenizer *t) { return t->eos_id; }
int32_t tok_unk_id(const tok_tokenizer *t) { return t->unk_id; }
int32_t tok_pad_id(const tok_tokenizer *t) { return t->pad_id; }
int tok_add_bos_default(const tok_tokenizer *t) { return t->add_bos; }
const char *tok_source_kind(const tok_tokenizer *t) { return t->kind; }

int tok_vocab_get(const tok_tokenizer *t, int32_t id, tok_piece_info *info) {
    if (id < 0 || id >= t->n_vocab) return -1;
    const tok_entry *e = &t->entries[id];
    info->text = tok_text(t, id);
    info->len = e->len;
    info->score = e->score;
    info->type = e->type;
    info->added = e->added;
    return 0;
}

int32_t tok_find_piece(const tok_tokenizer *t, const char *text, size_t len) {
    return tok_strmap_get(&t->all_pieces, t, text, len);
}

void tok_ids_free(tok_ids *v) {
    if (!v) return;
    free(v->ids);
    memset(v, 0, sizeof *v);
}
