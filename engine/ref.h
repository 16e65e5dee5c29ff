/* A small plain-C Phi-3 forward pass for the bench's attestation check: one
 * token at a time with a KV cache, fp32 activations (double for
 * reductions), over the fp16-rounded values of a synthetic model
 * (model/synth.h), i.e. exactly the weights eng_model_synthetic puts on the
 * device. Meant for small shapes (a few MB of weights): it is slow and simple
 * on purpose. Plain RoPE only (no LongRoPE), optional sliding window. */
#ifndef PHI3VK_BENCH_REF_H
#define PHI3VK_BENCH_REF_H
#include <stddef.h>
#include <stdint.h>

#include "model/synth.h"

typedef struct eng_ref eng_ref;

/* Generates the weights of synth (rounded through fp16) and a KV cache of
 * n_ctx positions. Returns NULL with err when out of memory or when the
 * config uses LongRoPE. */
eng_ref *eng_ref_create(const phi3_synth_opts *synth, int n_ctx, char *err, size_t errlen);
void eng_ref_destroy(eng_ref *r);

/* Appends token at the next position and writes its logits [vocab].
 * Returns 0, or -1 when the cache is full or the id is out of range. */
int eng_ref_step(eng_ref *r, int32_t token, float *logits);

#endif
