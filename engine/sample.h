/* Token sampling on the host from next-token logits: greedy, temperature,
 * top-k, top-p, min-p and repetition penalty, applied in Hugging Face's
 * order (penalty, temperature, top-k, top-p, min-p), then a draw from a
 * seeded generator: the same seed and logits give the same tokens. */
#ifndef PHI3VK_MODEL_SAMPLE_H
#define PHI3VK_MODEL_SAMPLE_H
#include <stdint.h>

typedef struct eng_sampler_opts {
    float temp;            /* <= 0: greedy (argmax); default 0.8 in the CLI */
    int top_k;             /* keep the k most likely; <= 0: off */
    float top_p;           /* keep the smallest set with mass >= p; >= 1: off */
    float min_p;           /* drop tokens with p < min_p * p_max; <= 0: off */
    float repeat_penalty;  /* > 1 penalises tokens seen in the last repeat_last_n; 1: off */
    int repeat_last_n;     /* window of the penalty; 0: 64 */
    uint64_t seed;
} eng_sampler_opts;

typedef struct eng_sampler eng_sampler;

/* n_vocab: logits per row. Returns NULL when out of memory. */
eng_sampler *eng_sampler_create(const eng_sampler_opts *opts, int n_vocab);
void eng_sampler_destroy(eng_sampler *s);
/* Records a token of the sequence (prompt or generated) for the penalty. */
void eng_sampler_accept(eng_sampler *s, int32_t token);
/* Picks the next token from logits [n_vocab] (not modified). */
int32_t eng_sampler_sample(eng_sampler *s, const float *logits);
/* 1 when the options reduce to argmax (the device can pick the token). */
int eng_sampler_is_greedy(const eng_sampler_opts *opts);

#endif
