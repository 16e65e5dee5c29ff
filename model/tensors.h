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

/* How a whole model's matrices are stored, as `convert --type` and
 * `--weights` name them. Each scheme maps every 2-D weight to one ggml type
 * (phi3_quant_type); norms stay F32 in files (fp16 on the device). */
typedef enum phi3_quant {
    PHI3_QUANT_NONE = 0, /* as stored (loading), F16 (converting) */
    PHI3_QUANT_F16,
    PHI3_QUANT_Q8_0,     /* every matrix Q8_0 */
    PHI3_QUANT_Q4_0,     /* Q4_0; lm_head Q6_K (as llama-quantize) */
    PHI3_QUANT_Q4_K,     /* Q4_K; lm_head Q6_K (llama-quantize's Q4_K_S without its Q5_K layers) */
    PHI3_QUANT_Q4_K_M,   /* llama-quantize's Q4_K_M for Phi-3: qkv Q5_K, down Q6_K in a third
                            of the layers (first and last eighth, every third between), lm_head
                            Q6_K, the rest Q4_K */
} phi3_quant;

/* "f16", "q8_0", "q4_0", "q4_k", "q4_k_m" (any case) -> *out; 0, or -1 for
 * anything else. */
int phi3_quant_parse(const char *name, phi3_quant *out);
/* The name above ("as stored" for NONE). */
const char *phi3_quant_name(phi3_quant q);
/* llama.cpp's general.file_type of a file in scheme q (1 F16, 7 Q8_0, 2
 * Q4_0, 14 Q4_K_S, 15 Q4_K_M). */
uint32_t phi3_quant_file_type(phi3_quant q);

/* The ggml type (formats/gguf.h ids) scheme q gives the 2-D weight of kind
 * in layer of n_layers with cols columns; output: the tensor serves as
 * lm_head (PHI3_W_OUTPUT, or the tied embedding). A block type needs whole
 * blocks: K types fall back to Q8_0 when cols is not a multiple of 256,
 * Q8_0 and Q4_0 to F16 when it is not a multiple of 32. q NONE gives F16. */
uint32_t phi3_quant_type(phi3_quant q, phi3_weight_kind kind, int layer, int n_layers, uint64_t cols, int output);

/* LongRoPE factor tensors a GGUF carries (head_dim / 2 F32 values each). */
#define PHI3_GGUF_ROPE_LONG "rope_factors_long.weight"
#define PHI3_GGUF_ROPE_SHORT "rope_factors_short.weight"

#endif
