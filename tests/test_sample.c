/* The host sampler: greedy, determinism per seed, and that top-k, top-p,
 * min-p and the repetition penalty only ever return allowed tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "engine/sample.h"

#define V 50

static int draw_counts(eng_sampler_opts o, const float *logits, int draws, int *counts) {
    eng_sampler *s = eng_sampler_create(&o, V);
    if (!s) return -1;
    memset(counts, 0, V * sizeof *counts);
    for (int i = 0; i < draws; i++) counts[eng_sampler_sample(s, logits)]++;
    eng_sampler_destroy(s);
    return 0;
}

int main(void) {
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = -0.1f * i; /* token 0 most likely, then 1, ... */
    logits[7] = 2.0f;                                   /* the argmax */
    int counts[V];

    eng_sampler_opts greedy = {.temp = 0};
    CHECK(eng_sampler_is_greedy(&greedy), "temp 0 is greedy");
    draw_counts(greedy, logits, 20, counts);
    CHECK(counts[7] == 20, "greedy picks the argmax every time (%d/20)", counts[7]);

    /* Same seed, same sequence; another seed, another sequence. */
    eng_sampler_opts o = {.temp = 1.0f, .seed = 42};
    eng_sampler *a = eng_sampler_create(&o, V), *b = eng_sampler_create(&o, V);
    o.seed = 43;
    eng_sampler *c = eng_sampler_create(&o, V);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 200; i++) {
        int32_t x = eng_sampler_sample(a, logits), y = eng_sampler_sample(b, logits), z = eng_sampler_sample(c, logits);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    CHECK(same_ab, "the same seed gives the same tokens");
    CHECK(!same_ac, "another seed gives other tokens");
    eng_sampler_destroy(a), eng_sampler_destroy(b), eng_sampler_destroy(c);

    /* Temperature 1 without filters follows softmax: the argmax (p ~ 0.35
     * here) is drawn about that often in 4000 draws. */
    double z = 0;
    for (int i = 0; i < V; i++) z += exp(logits[i] - 2.0);
    double p7 = 1.0 / z;
    draw_counts((eng_sampler_opts){.temp = 1.0f, .seed = 1}, logits, 4000, counts);
    CHECK(fabs(counts[7] / 4000.0 - p7) < 0.03, "argmax frequency %.3f vs softmax %.3f", counts[7] / 4000.0, p7);

    /* top-k 3 keeps tokens 7, 0, 1 only. */
    draw_counts((eng_sampler_opts){.temp = 1.0f, .top_k = 3, .seed = 2}, logits, 2000, counts);
    CHECK(counts[7] + counts[0] + counts[1] == 2000 && counts[0] > 0 && counts[1] > 0, "top-k 3: %d %d %d", counts[7],
          counts[0], counts[1]);
    /* top-p 0.3 (argmax alone has ~0.35) keeps only the argmax. */
    draw_counts((eng_sampler_opts){.temp = 1.0f, .top_p = 0.3f, .seed = 3}, logits, 500, counts);
    CHECK(counts[7] == 500, "top-p 0.3 keeps the argmax only (%d/500)", counts[7]);
    /* min-p 0.12: keeps p >= 0.12 * p_max, i.e. logits >= 2 + ln 0.12 = -0.12:
     * tokens 7, 0, 1 (-0.1) but not 2 (-0.2). */
    draw_counts((eng_sampler_opts){.temp = 1.0f, .min_p = 0.12f, .seed = 4}, logits, 2000, counts);
    CHECK(counts[7] + counts[0] + counts[1] == 2000 && counts[1] > 0, "min-p: tokens beyond the floor drawn");
    /* A repetition penalty of 10 on the seen argmax (2.0 -> 0.2) moves greedy
     * to token 0 (0.5); a penalty of 2 (2.0 -> 1.0) does not. */
    logits[0] = 0.5f;
    eng_sampler *r = eng_sampler_create(&(eng_sampler_opts){.temp = 0, .repeat_penalty = 10.0f}, V);
    eng_sampler_accept(r, 7);
    CHECK(eng_sampler_sample(r, logits) == 0, "penalised argmax is avoided");
    eng_sampler_destroy(r);
    r = eng_sampler_create(&(eng_sampler_opts){.temp = 0, .repeat_penalty = 2.0f}, V);
    eng_sampler_accept(r, 7);
    CHECK(eng_sampler_sample(r, logits) == 7, "a mild penalty keeps the argmax");
    eng_sampler_destroy(r);
    return test_finish();
}
