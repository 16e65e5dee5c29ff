/* Decoding: pieces -> text, with a streaming UTF-8 assembler so a character
 * split across <0xNN> pieces comes out whole. tok_decode is the stream run
 * over all ids, so both always agree. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

struct tok_stream {
    const tok_tokenizer *t;
    unsigned flags;          /* enum tok_decode_flag */
    unsigned char pend[4];   /* bytes of an incomplete character */
    int npend;               /* bytes in pend */
    int need;                /* total length of the pending character */
    int started;             /* something was emitted (the leading-space strip is done) */
    char *out;               /* text returned by the last push/flush */
    size_t len, cap;
    int oom;
};

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

static void emit(tok_stream *s, const void *p, size_t n) {
    const char *b = p;
    if (n == 0 || s->oom) return;
    if (!s->started) {
        s->started = 1;
        if (b[0] == ' ' && s->t->strip_leading_space && !(s->flags & TOK_DECODE_KEEP_LEADING_SPACE)) {
            b++;
            n--;
        }
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->len + n + 1) cap *= 2;
        char *q = realloc(s->out, cap);
        if (!q) {
            s->oom = 1;
            return;
        }
        s->out = q;
        s->cap = cap;
    }
    memcpy(s->out + s->len, b, n);
    s->len += n;
    s->out[s->len] = 0;
}

/* Held bytes that will not complete: one U+FFFD each. */
static void drop_pending(tok_stream *s) {
    for (int i = 0; i < s->npend; i++) emit(s, REPLACEMENT, 3);
    s->npend = 0;
}

/* Range of the second byte after lead byte c (UTF-8 excludes overlongs and
 * surrogates); 0 for bytes that cannot start a multi-byte character. */
static int lead_len(unsigned c, unsigned *lo, unsigned *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

static void feed_byte(tok_stream *s, unsigned char b) {
    if (s->flags & TOK_DECODE_RAW_BYTES) {
        emit(s, &b, 1);
        return;
    }
    if (s->npend > 0) {
        unsigned lo = 0x80, hi = 0xBF;
        if (s->npend == 1) lead_len(s->pend[0], &lo, &hi);
        if (b >= lo && b <= hi) {
            s->pend[s->npend++] = b;
            if (s->npend == s->need) {
                emit(s, s->pend, (size_t)s->need);
                s->npend = 0;
            }
            return;
        }
        drop_pending(s); /* b is not a continuation: start over with it */
    }
    unsigned lo, hi;
    if (b < 0x80) {
        emit(s, &b, 1);
    } else if ((s->need = lead_len(b, &lo, &hi)) > 0) {
        s->pend[0] = b;
        s->npend = 1;
    } else {
        emit(s, REPLACEMENT, 3);
    }
}

/* Text of a non-byte piece: "▁" -> " "; in checked mode invalid bytes in it
 * (only possible in hostile vocabularies) become U+FFFD. */
static void feed_text(tok_stream *s, const char *p, size_t n) {
    drop_pending(s); /* HF: a non-byte piece ends a run of byte pieces */
    size_t i = 0, run = 0;
    while (i < n) {
        if (n - i >= 3 && memcmp(p + i, TOK_SPACE_MARK, 3) == 0) {
            emit(s, p + run, i - run);
            emit(s, " ", 1);
            i += 3;
            run = i;
            continue;
        }
        uint32_t cp;
        int l = (s->flags & TOK_DECODE_RAW_BYTES) ? 1 : tok_utf8_next((const unsigned char *)p + i, n - i, &cp);
        if (l == 0) {
            emit(s, p + run, i - run);
            emit(s, REPLACEMENT, 3);
            i++;
            run = i;
            continue;
        }
        i += (size_t)l;
    }
    emit(s, p + run, n - run);
}

tok_stream *tok_stream_create(const tok_tokenizer *t, unsigned flags) {
    tok_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->flags = flags;
    return s;
}

void tok_stream_destroy(tok_stream *s) {
    if (!s) return;
    free(s->out);
    free(s);
}

static const char *result(tok_stream *s, size_t *len) {
    *len = s->len;
    return s->out ? s->out : "";
}

const char *tok_stream_push(tok_stream *s, int32_t id, size_t *len, char *err, size_t errlen) {
    s->len = 0;
    if (s->out) s->out[0] = 0;
    if (id < 0 || id >= s->t->n_vocab) {
        tok_fail(err, errlen, "token id %d is outside the vocabulary [0, %d)", id, s->t->n_vocab);
        return NULL;
    }
    const tok_entry *e = &s->t->entries[id];
    if ((s->flags & TOK_DECODE_SKIP_SPECIAL) && (e->added & TOK_ADDED_SPECIAL)) return result(s, len);
    if (e->type == TOK_TYPE_BYTE) feed_byte(s, e->byte);
    else feed_text(s, tok_text(s->t, id), e->len);
    if (s->oom) {
        s->oom = 0;
        tok_fail(err, errlen, "out of memory decoding");
        return NULL;
    }
    return result(s, len);
}

const char *tok_stream_flush(tok_stream *s, size_t *len) {
    s->len = 0;
    if (s->out) s->out[0] = 0;
    drop_pending(s);
    s->started = 0;
    s->oom = 0;
    return result(s, len);
}

int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **out, size_t *out_len,
               char *err, size_t errlen) {
    tok_stream s = {0};
    s.t = t;
    s.flags = flags;
    /* push appends to s.out; keep everything by not resetting len between ids */
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            free(s.out);
            return tok_fail(err, errlen, "token %zu: id %d is outside the vocabulary [0, %d)", i, ids[i], t->n_vocab);
        }
        const tok_entry *e = &t->entries[ids[i]];
        if ((flags & TOK_DECODE_SKIP_SPECIAL) && (e->added & TOK_ADDED_SPECIAL)) continue;
        if (e->type == TOK_TYPE_BYTE) feed_byte(&s, e->byte);
        else feed_text(&s, tok_text(t, ids[i]), e->len);
    }
    drop_pending(&s);
    emit(&s, "", 0);
    if (!s.out && !s.oom) s.out = calloc(1, 1);
    if (s.oom || !s.out) {
        free(s.out);
        return tok_fail(err, errlen, "out of memory decoding %zu ids", n);
    }
    *out = s.out;
    if (out_len) *out_len = s.len;
    return 0;
}
