/* Host sampling of the next token from logits (see sample.h). */
#include "engine/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct eng_sampler {
    eng_sampler_opts o;
    int n_vocab;
    int32_t *recent;       /* ring of the last repeat_last_n tokens */
    int n_recent, recent_pos;
    uint64_t rng;
    float *work;           /* [n_vocab] adjusted logits */
    int32_t *idx;          /* [n_vocab] candidate ids */
};

eng_sampler *eng_sampler_create(const eng_sampler_opts *opts, int n_vocab) {
    eng_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = *opts;
    if (s->o.repeat_last_n <= 0) s->o.repeat_last_n = 64;
    s->n_vocab = n_vocab;
    s->rng = opts->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    s->recent = malloc((size_t)s->o.repeat_last_n * sizeof *s->recent);
    s->work = malloc((size_t)n_vocab * sizeof *s->work);
    s->idx = malloc((size_t)n_vocab * sizeof *s->idx);
    if (!s->recent || !s->work || !s->idx) {
        eng_sampler_destroy(s);
        return NULL;
    }
    return s;
}

void eng_sampler_destroy(eng_sampler *s) {
    if (!s) return;
    free(s->recent);
    free(s->work);
    free(s->idx);
    free(s);
}

int eng_sampler_is_greedy(const eng_sampler_opts *o) {
    return o->temp <= 0 && (o->repeat_penalty == 0 || o->repeat_penalty == 1);
}

void eng_sampler_accept(eng_sampler *s, int32_t token) {
    s->recent[s->recent_pos] = token;
    s->recent_pos = (s->recent_pos + 1) % s->o.repeat_last_n;
    if (s->n_recent < s->o.repeat_last_n) s->n_recent++;
}

static double next_uniform(eng_sampler *s) {
    uint64_t x = s->rng;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s->rng = x;
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static const float *cmp_vals;
static int by_logit_desc(const void *a, const void *b) {
    float x = cmp_vals[*(const int32_t *)a], y = cmp_vals[*(const int32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b; /* ties: lower id first, deterministic */
}

int32_t eng_sampler_sample(eng_sampler *s, const float *logits) {
    int n = s->n_vocab;
    float *w = s->work;
    memcpy(w, logits, (size_t)n * sizeof *w);
    float pen = s->o.repeat_penalty;
    if (pen > 0 && pen != 1) /* HF: positive logits divided, negative multiplied, once per distinct token */
        for (int i = 0; i < s->n_recent; i++) {
            int32_t t = s->recent[i];
            if (t < 0 || t >= n || isnan(w[t])) continue;
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= s->recent[j] == t;
            if (!seen) w[t] = w[t] > 0 ? w[t] / pen : w[t] * pen;
        }
    if (s->o.temp <= 0) {
        int32_t best = 0;
        for (int i = 1; i < n; i++)
            if (w[i] > w[best]) best = i;
        return best;
    }
    for (int i = 0; i < n; i++) {
        w[i] /= s->o.temp;
        s->idx[i] = i;
    }
    cmp_vals = w;
    qsort(s->idx, (size_t)n, sizeof *s->idx, by_logit_desc);
    int k = s->o.top_k > 0 && s->o.top_k < n ? s->o.top_k : n;
    /* softmax over the kept candidates (sorted, so idx[0] has the max) */
    double mx = w[s->idx[0]], sum = 0;
    for (int i = 0; i < k; i++) sum += (w[s->idx[i]] = (float)exp(w[s->idx[i]] - mx));
    if (s->o.top_p > 0 && s->o.top_p < 1) {
        double cum = 0;
        int keep = 0;
        while (keep < k && cum < s->o.top_p * sum) cum += w[s->idx[keep++]];
        k = keep > 0 ? keep : 1;
    }
    if (s->o.min_p > 0) {
        double floor_p = s->o.min_p * w[s->idx[0]];
        int keep = 1;
        while (keep < k && w[s->idx[keep]] >= floor_p) keep++;
        k = keep;
    }
    sum = 0;
    for (int i = 0; i < k; i++) sum += w[s->idx[i]];
    double r = next_uniform(s) * sum;
    for (int i = 0; i < k; i++) {
        r -= w[s->idx[i]];
        if (r <= 0) return s->idx[i];
    }
    return s->idx[k - 1];
}
