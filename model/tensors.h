/* The Phi-3 tensor table: every weight of the architecture, its names in
 * Hugging Face and GGUF (llama.cpp) checkpoints and its shape from the
 * config. The loader (model/source.c), the converter, the synthetic
 * checkpoints and the engine's upload all read it from here. */
#ifndef PHI3VK_MODEL_TENSORS_H
#define PHI3VK_MODEL_TENSORS_H
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

/* The weights of the model. Kinds ATTN_NORM .. DOWN exist once per layer;
 * the others once. */
typedef enum phi3_weight_kind {
    PHI3_W_EMBD = 0,     /* [vocab, hidden] token embedding */
    PHI3_W_ATTN_NORM,    /* [hidden] RMSNorm weight before attention */
    PHI3_W_QKV,          /* [(heads + 2 kv_heads) head_dim, hidden], rows q|k|v */
    PHI3_W_O,            /* [hidden, heads head_dim] attention output */
    PHI3_W_FFN_NORM,     /* [hidden] RMSNorm weight before the MLP */
    PHI3_W_GATE_UP,      /* [2 intermediate, hidden], rows gate then up */
    PHI3_W_DOWN,         /* [hidden, intermediate] */
    PHI3_W_OUTPUT_NORM,  /* [hidden] final RMSNorm weight */
    PHI3_W_OUTPUT,       /* [vocab, hidden] lm_head (may be the EMBD tensor) */
    PHI3_W_KIND_COUNT
} phi3_weight_kind;

/* 1 for kinds that exist once per layer (ATTN_NORM .. DOWN). */
int phi3_weight_is_per_layer(phi3_weight_kind kind);
/* "embd", "attn_norm", "qkv", "o", "ffn_norm", "gate_up", "down",
 * "output_norm", "output" ("unknown" out of range). */
const char *phi3_weight_kind_name(phi3_weight_kind kind);
/* The tensor's name in a checkpoint of that layout (layer ignored for the
 * kinds that exist once): "model.layers.3.self_attn.qkv_proj.weight",
 * "blk.3.attn_qkv.weight". */
void phi3_weight_name(phi3_weight_kind kind, int layer, int gguf, char *buf, size_t len);
/* The shape the config implies: rows x cols of a 2-D weight, rows 0 for a
 * 1-D one (the norms: cols values). head_dim: the config's, else hidden / heads. */
void phi3_weight_shape(const phi3_config *c, phi3_weight_kind kind, uint64_t *rows, uint64_t *cols);

/* LongRoPE factor tensors a GGUF carries (head_dim / 2 F32 values each). */
#define PHI3_GGUF_ROPE_LONG "rope_factors_long.weight"
#define PHI3_GGUF_ROPE_SHORT "rope_factors_short.weight"

#endif
