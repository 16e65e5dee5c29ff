/* P(toxic) from logits; the definition is in score.h. */
#include "judge/score.h"

#include <math.h>
#include <stdio.h>

const judge_spelling judge_spellings[] = {
    {"toxic", 1},
    {"Toxic", 1},
    {"non-toxic", 0},
    {"Non-toxic", 0},
};
const int judge_spelling_count = (int)(sizeof judge_spellings / sizeof judge_spellings[0]);

int judge_common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

int judge_answer_token_class(const judge_answer_tokens *a, int32_t token) {
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < a->n_first[c]; i++)
            if (a->first[c][i] == token) return c;
    return -1;
}

int judge_answer_tokens_build(const int32_t *const *paths, const int *lens, const int *cls, int n,
                              judge_answer_tokens *out, char *err, size_t errlen) {
    *out = (judge_answer_tokens){0};
    if (n < 1 || n > JUDGE_MAX_SPELLINGS) {
        snprintf(err, errlen, "answer spellings: %d paths, expected 1..%d", n, JUDGE_MAX_SPELLINGS);
        return -1;
    }
    int shared = lens[0];
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || (cls[i] != 0 && cls[i] != 1)) {
            snprintf(err, errlen, "answer spelling %d: %d tokens, class %d (expected >= 1 token, class 0 or 1)", i,
                     lens[i], cls[i]);
            return -1;
        }
        int k = judge_common_prefix(paths[0], lens[0], paths[i], lens[i]);
        if (k < shared) shared = k;
    }
    for (int i = 0; i < n; i++) {
        if (lens[i] <= shared) {
            snprintf(err, errlen,
                     "answer spelling %d: its %d tokens are a prefix of every other spelling, so no token tells the "
                     "classes apart",
                     i, lens[i]);
            return -1;
        }
    }
    if (shared > JUDGE_MAX_SHARED) {
        snprintf(err, errlen, "answer spellings share %d leading tokens, at most %d supported", shared,
                 JUDGE_MAX_SHARED);
        return -1;
    }
    for (int j = 0; j < shared; j++) out->shared[j] = paths[0][j];
    out->n_shared = shared;
    for (int i = 0; i < n; i++) {
        int32_t t = paths[i][shared];
        int c = judge_answer_token_class(out, t);
        if (c == cls[i]) continue;
        if (c >= 0) {
            snprintf(err, errlen, "answer token %d starts spellings of both classes (spelling %d is class %d)",
                     (int)t, i, cls[i]);
            return -1;
        }
        out->first[cls[i]][out->n_first[cls[i]]++] = t;
    }
    if (!out->n_first[0] || !out->n_first[1]) {
        snprintf(err, errlen, "answer spellings: class %d has none", out->n_first[0] ? 1 : 0);
        return -1;
    }
    return 0;
}

/* Largest logit over the spelling tokens; NaN for a bad id or a NaN logit. */
static double max_logit(const float *logits, int n_vocab, const judge_answer_tokens *a) {
    double m = -INFINITY;
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < a->n_first[c]; i++) {
            int32_t t = a->first[c][i];
            if (t < 0 || t >= n_vocab || isnan(logits[t])) return NAN;
            if (logits[t] > m) m = logits[t];
        }
    }
    return m;
}

double judge_p_toxic(const float *logits, int n_vocab, const judge_answer_tokens *a) {
    double m = max_logit(logits, n_vocab, a);
    if (isnan(m)) return NAN;
    if (isinf(m)) {
        /* All -inf (masked): undefined; +inf: the classes holding it split it. */
        if (m < 0) return NAN;
        int hits[2] = {0, 0};
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < a->n_first[c]; i++) hits[c] += isinf(logits[a->first[c][i]]) && logits[a->first[c][i]] > 0;
        return (double)hits[1] / (hits[0] + hits[1]);
    }
    double sum[2] = {0, 0};
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < a->n_first[c]; i++) sum[c] += exp((double)logits[a->first[c][i]] - m);
    return sum[1] / (sum[0] + sum[1]);
}

int judge_answer_argmax_class(const float *logits, int n_vocab, const judge_answer_tokens *a) {
    int best = -1;
    float bl = 0;
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < a->n_first[c]; i++) {
            int32_t t = a->first[c][i];
            if (t < 0 || t >= n_vocab) return -1;
            if (best < 0 || logits[t] > bl) {
                best = c;
                bl = logits[t];
            }
        }
    }
    return best;
}
