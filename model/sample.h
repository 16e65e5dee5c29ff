/* Token sampling on the host from next-token logits: greedy, temperature,
 * top-k, top-p, min-p and repetition penalty, applied in Hugging Face's
 * order (penalty, temperature, top-k, top-p, min-p), then a draw from a
 * seeded generator: the same seed and logits give the same tokens. */
#ifndef PHI3VK_MODEL_SAMPLE_H
#define PHI3VK_MODEL_SAMPLE_H
#include <stdint.h>

typedef struct phi3_sampler_opts {
    float temp;            /* <= 0: greedy (argmax); default 0.8 in the CLI */
    int top_k;             /* keep the k most likely; <= 0: off */
    float top_p;           /* keep the smallest set with mass >= p; >= 1: off */
    float min_p;           /* drop tokens with p < min_p * p_max; <= 0: off */
    float repeat_penalty;  /* > 1 penalises tokens seen in the last repeat_last_n; 1: off */
    int repeat_last_n;     /* window of the penalty; 0: 64 */
    uint64_t seed;
} phi3_sampler_opts;

typedef struct phi3_sampler phi3_sampler;

/* n_vocab: logits per row. Returns NULL when out of memory. */
phi3_sampler *phi3_sampler_create(const phi3_sampler_opts *opts, int n_vocab);
void phi3_sampler_destroy(phi3_sampler *s);
/* Records a token of the sequence (prompt or generated) for the penalty. */
void phi3_sampler_accept(phi3_sampler *s, int32_t token);
/* Picks the next token from logits [n_vocab] (not modified). */
int32_t phi3_sampler_sample(phi3_sampler *s, const float *logits);
/* 1 when the options reduce to argmax (the device can pick the token). */
int phi3_sampler_is_greedy(const phi3_sampler_opts *opts);

#endif
