/* Plain-C reference of the Phi-3 forward pass (Hugging Face modeling_phi3),
 * fp32 math (double for reductions) over the same fp16-rounded weights the
 * device uses. Slow and simple on purpose: the yardstick for the engine. */
#ifndef PHI3VK_TEST_REF_PHI3_H
#define PHI3VK_TEST_REF_PHI3_H
#include <stdint.h>

#include "model/config.h"
#include "model/tensors.h"

typedef struct ref_layer {
    float *attn_norm;   /* [hidden] */
    float *qkv;         /* [(heads + 2 kv_heads) head_dim, hidden] */
    float *o;           /* [hidden, heads head_dim] */
    float *ffn_norm;    /* [hidden] */
    float *gate_up;     /* [2 intermediate, hidden]: gate rows first */
    float *down;        /* [hidden, intermediate] */
} ref_layer;

typedef struct ref_model {
    phi3_config cfg;
    float *embd;        /* [vocab, hidden] */
    ref_layer *layers;  /* [n_layers] */
    float *out_norm;    /* [hidden] */
    float *lm_head;     /* [vocab, hidden] (may alias embd) */
} ref_model;

/* Loads every weight of the checkpoint at path (folder or GGUF) as the
 * device holds it, widened to float: fp16-rounded float weights, quantized
 * ones dequantized. Returns 0, or -1 with err. */
int ref_model_load(ref_model *m, const char *path, char *err, size_t errlen);
/* The same for a model the engine loads with eng_model_opts.weights = q:
 * the matrices quantized to q's types here (as the engine does), then
 * dequantized. */
int ref_model_load_as(ref_model *m, const char *path, phi3_quant q, char *err, size_t errlen);
void ref_model_free(ref_model *m);

/* Runs tokens[0..n) from position 0 and writes logits [n, vocab]. Uses the
 * LongRoPE long factors for the whole sequence when n > orig_max_pos (as HF
 * does for a sequence of that length). */
void ref_forward(const ref_model *m, const int32_t *tokens, int n, float *logits);

#endif
