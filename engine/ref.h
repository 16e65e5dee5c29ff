/* A plain-C Phi-3 forward pass: the yardstick the device is checked
 * against (the attestation model of engine/check.h, and bench's check of
 * the measured model itself). fp32 activations, double for reductions and
 * dot products, over the weights the device holds (fp16-rounded, or
 * dequantized from the device's block type: eng_weight_dtype): a seeded
 * synthetic model (model/synth.h) or any checkpoint (model/source.h), whose
 * rows are converted exactly as the upload converts them.
 *
 * Two ways to hold the weights:
 * - resident: every weight as float at creation (small models: the
 *   attestation model's ~6 MB);
 * - streamed: one layer at a time, read again from the file or generator at
 *   every eng_ref_forward, so a 3.8 B model needs ~0.5 GB of host memory
 *   (one layer's and lm_head's floats) instead of 15 GB. Its cost is one
 *   pass over the checkpoint per call: give it all the tokens at once.
 * RoPE as the device computes it: plain, or LongRoPE with the short factors
 * (contexts up to original_max_position_embeddings). */
#ifndef PHI3VK_ENGINE_REF_H
#define PHI3VK_ENGINE_REF_H
#include <stddef.h>
#include <stdint.h>

#include "model/source.h"
#include "model/synth.h"

typedef struct eng_ref eng_ref;

typedef struct eng_ref_opts {
    const phi3_synth_opts *synth;  /* synthetic weights (copied), or NULL with src set */
    const phi3_source *src;        /* a checkpoint (not owned; must outlive the reference) */
    int max_layers;                /* > 0: only the first N layers, as eng_model_opts.max_layers */
    int n_ctx;                     /* positions of the KV cache, <= orig_max_pos */
    int stream;                    /* 1: one layer's weights at a time (see above) */
    int threads;                   /* threads for the matrix products; <= 1: the calling one */
    phi3_quant weights;            /* as eng_model_opts.weights: the matrices go through the block
                                      type the device holds (quantized, then dequantized) */
} eng_ref_opts;

/* Creates a reference (resident weights are read now). Returns NULL with
 * err when out of memory, when n_ctx is past original_max_position_embeddings
 * of a LongRoPE model, or when a weight cannot be read. */
eng_ref *eng_ref_open(const eng_ref_opts *o, char *err, size_t errlen);
/* eng_ref_open of a resident synthetic model on one thread. */
eng_ref *eng_ref_create(const phi3_synth_opts *synth, int n_ctx, char *err, size_t errlen);
void eng_ref_destroy(eng_ref *r);

/* Appends tokens[0, n) at the next positions, layer by layer, and writes
 * the logits after each [n, vocab]. Returns 0, or -1 with err when the cache
 * would overflow, an id is out of range, or (streamed) a weight cannot be
 * read or memory runs out. */
int eng_ref_forward(eng_ref *r, const int32_t *tokens, int n, float *logits, char *err, size_t errlen);

/* eng_ref_forward of one token. Returns 0 or -1. */
int eng_ref_step(eng_ref *r, int32_t token, float *logits);

/* The config the reference runs (n_layers after max_layers). */
const phi3_config *eng_ref_config(const eng_ref *r);

#endif
