/* The normalizer (Prepend / Replace steps of tokenizer.json), and the bound
 * that keeps a hostile one from multiplying text. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static int norm_op(const tok_norm_op *op, const char *s, size_t n, char **buf, size_t *cap, size_t *out) {
    if (op->kind == TOK_NORM_PREPEND) {
        if (n == 0) { /* HF Prepend leaves an empty string empty */
            *out = 0;
            return 0;
        }
        if (tok_grow((void **)buf, cap, op->alen + n + 1, 1) != 0) return -1;
        memcpy(*buf, op->a, op->alen);
        memcpy(*buf + op->alen, s, n);
        *out = op->alen + n;
        return 0;
    }
    /* REPLACE: every non-overlapping occurrence, left to right */
    size_t count = 0;
    for (size_t i = 0; i + op->alen <= n;) {
        const char *hit = memchr(s + i, op->a[0], n - i - op->alen + 1);
        if (!hit) break;
        i = (size_t)(hit - s);
        if (memcmp(s + i, op->a, op->alen) == 0) { count++; i += op->alen; }
        else i++;
    }
    size_t need = n + count * op->blen + 1;
    if (tok_grow((void **)buf, cap, need, 1) != 0) return -1;
    char *d = *buf;
    size_t o = 0, i = 0;
    while (i < n) {
        if (i + op->alen <= n && s[i] == op->a[0] && memcmp(s + i, op->a, op->alen) == 0) {
            memcpy(d + o, op->b, op->blen);
            o += op->blen;
            i += op->alen;
        } else {
            d[o++] = s[i++];
        }
    }
    *out = o;
    return 0;
}

int tok_normalize_into(const tok_tokenizer *t, const char *s, size_t n, char *bufs[2], size_t caps[2],
                      const char **res, size_t *res_len) {
    const char *cur = s;
    size_t len = n;
    for (size_t i = 0; i < t->n_norm; i++) {
        int k = (int)(i & 1);
        size_t out;
        if (norm_op(&t->norm[i], cur, len, &bufs[k], &caps[k], &out) != 0) return -1;
        cur = bufs[k];
        len = out;
    }
    *res = cur;
    *res_len = len;
    return 0;
}

int tok_normalize(const tok_tokenizer *t, const char *s, size_t n, char **buf, size_t *cap, size_t *out_len) {
    char *bufs[2] = {NULL, NULL};
    size_t caps[2] = {0, 0};
    const char *res;
    size_t len;
    int rc = tok_normalize_into(t, s, n, bufs, caps, &res, &len);
    if (rc == 0) rc = tok_grow((void **)buf, cap, len + 1, 1);
    if (rc == 0) {
        memcpy(*buf, res, len);
        (*buf)[len] = 0;
        *out_len = len;
    }
    free(bufs[0]);
    free(bufs[1]);
    return rc;
}

int tok_norm_check(const tok_tokenizer *t, const char *name, char *err, size_t errlen) {
    if (t->n_norm > TOK_MAX_NORM_STEPS)
        return tok_fail(err, errlen, "%s: normalizer: %zu Prepend/Replace steps, at most %d allowed", name, t->n_norm,
                        TOK_MAX_NORM_STEPS);
    /* out <= grow * in + extra, composed step by step */
    double grow = 1, extra = 0;
    for (size_t i = 0; i < t->n_norm; i++) {
        const tok_norm_op *op = &t->norm[i];
        size_t longest = op->alen > op->blen ? op->alen : op->blen;
        if (longest > TOK_MAX_PIECE_LEN)
            return tok_fail(err, errlen, "%s: normalizer step %zu: a %zu-byte string, at most %d allowed", name, i + 1,
                            longest, TOK_MAX_PIECE_LEN);
        if (op->kind == TOK_NORM_PREPEND) {
            extra += (double)op->alen;
        } else if (op->blen > op->alen) {
            double f = (double)op->blen / (double)op->alen; /* every occurrence replaced */
            grow *= f;
            extra *= f;
        }
        if (grow > TOK_NORM_MAX_GROWTH || extra > TOK_NORM_MAX_EXTRA)
            return tok_fail(err, errlen,
                            "%s: normalizer: after step %zu (%s) a text can grow to %.3gx its length + %.0f bytes; at "
                            "most %dx + %d allowed",
                            name, i + 1, op->kind == TOK_NORM_PREPEND ? "Prepend" : "Replace", grow, extra,
                            TOK_NORM_MAX_GROWTH, TOK_NORM_MAX_EXTRA);
    }
    return 0;
}

