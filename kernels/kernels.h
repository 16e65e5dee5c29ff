/* vkr_op_*: record one transformer kernel into a command buffer.
 *
 * Each op takes its buffers and sizes in a small struct (designated
 * initializers at the call site) and records one or two dispatches. Pipelines
 * and their tuning constants are chosen from the device (vkr_ctx_device).
 * Errors (a pipeline that fails to build, a buffer of the wrong kind or size)
 * mark the recording failed; vkr_cmd_end then returns -1 with the message.
 *
 * Shapes follow shaders/common.h: fp32 [T, n] activations, fp16 [T, ld]
 * matmul inputs with ld = align8(n), weights [rows, cols] in VKR_BUF_WEIGHT
 * buffers (fp16 rows of align8(cols) halves, or a block type: below), fp16
 * KV cache [ctx, n_kv_heads * head_dim].
 * "params" is a host-visible buffer holding struct step_params, so a
 * recording can be re-submitted for the next position without re-recording.
 */
#ifndef PHI3VK_VK_OPS_H
#define PHI3VK_VK_OPS_H

#include "vk/vkr.h"

/* Rounds n up to the fp16 row alignment (8 halves = one texel). */
static inline uint32_t kern_ld(uint32_t n) { return (n + 7u) & ~7u; }

/* ---- weight dtypes ------------------------------------------------------
 * A weight is fp16 or one of ggml's block types (formats/quant.h: Q8_0,
 * Q4_0, Q4_K, Q5_K, Q6_K), dtype = its ggml type id. The matrix and
 * embedding kernels read the dtype from the weight buffer (vkr_tensor_desc;
 * a plain VKR_BUF_WEIGHT is fp16) and dequantize in registers, summing in
 * fp32. On the device a block-type row is ggml's blocks repacked into
 * 16-byte texels, every load one aligned texel (per row of K values):
 *   Q8_0  K / 16 texels of the int8 values, then the block scales (8 binary16
 *         per texel)
 *   Q4_0  K / 32 texels, one per block (4-bit q - 8, byte v / 2 holds value v
 *         in its low nibble for even v), then the scales as Q8_0
 *   Q4_K  per 256 values 9 texels: ggml's 16-byte header (d, dmin, 6-bit
 *         scales and mins), then one texel of 4-bit values per 32
 *   Q5_K  Q4_K's 9, then 2 texels of fifth bits (one word per 32 values)
 *   Q6_K  per 256 values 13 texels: 8 of low nibbles, 4 of high 2-bit pairs,
 *         1 of the 16 int8 scales; after all of them the d of each (binary16)
 * Block types need cols to be a whole number of blocks (32 or 256). */

/* Device bytes of one row of cols values (a multiple of 16); 0 for an
 * unknown dtype or cols not a whole number of its blocks. */
uint64_t kern_weight_row_bytes(uint32_t dtype, uint32_t cols);
/* Repacks rows rows from the file layout (fp16: cols halves per row; block
 * types: fmt_quant_row_bytes per row) into the device layout
 * (kern_weight_row_bytes per row, padding zeroed) at dst. Returns 0, or -1
 * as kern_weight_row_bytes gives 0. */
int kern_weight_pack(uint32_t dtype, const void *src, void *dst, uint32_t rows, uint32_t cols);
/* A weight buffer for [rows, cols] of dtype (vkr_tensor_create); NULL with
 * vkr_ctx_error. */
vkr_buffer *kern_weight_create(vkr_ctx *ctx, const char *name, uint32_t dtype, uint32_t rows, uint32_t cols);
/* The dtype of a weight buffer (FMT_GGML_F16 for a plain VKR_BUF_WEIGHT). */
uint32_t kern_weight_dtype(const vkr_buffer *w);

typedef struct kern_embed_args {
    vkr_buffer *weight;   /* [vocab, dim], any weight dtype */
    vkr_buffer *ids;      /* uint32 [T] token ids; the host validates them (an id >= vocab
                             gives a NaN row, never an out-of-bounds read) */
    vkr_buffer *out;      /* fp32 [T, dim] */
    uint32_t dim, n_tokens;
} kern_embed_args;
void kern_embed(vkr_cmd *cmd, const kern_embed_args *a);

typedef struct kern_rmsnorm_args {
    vkr_buffer *weight;   /* fp16 [ld(n)] (fp16 only) */
    vkr_buffer *x;        /* fp32 [T, n] */
    vkr_buffer *out;      /* fp16 [T, ld(n)] */
    uint32_t n, n_tokens;
    float eps;
} kern_rmsnorm_args;
void kern_rmsnorm(vkr_cmd *cmd, const kern_rmsnorm_args *a);

typedef struct kern_matmul_args {
    vkr_buffer *weight;   /* [n_out, n_in], any weight dtype (fp16: rows of ld(n_in)) */
    vkr_buffer *x;        /* fp16 [T, ld(n_in)] */
    vkr_buffer *out;      /* fp32 [T, n_out] */
    uint32_t n_out, n_in, n_tokens;
    int accumulate;       /* 1: out += W x (fused residual add) */
} kern_matmul_args;
/* Matrix x vector kernel for few tokens (decode); for many (prefill) a
 * register-blocked matrix x matrix kernel on CPU devices and a shared-memory
 * tiled one on GPUs (kern_matmul_tune_for in kernels/tune.h says which). */
void kern_matmul(vkr_cmd *cmd, const kern_matmul_args *a);

typedef struct kern_rope_args {
    vkr_buffer *qkv;      /* fp32 [T, (n_heads + 2 n_kv_heads) head_dim] */
    vkr_buffer *cos_sin;  /* fp32 [max_pos, head_dim/2, 2]: cos, sin (LongRoPE scale folded in) */
    vkr_buffer *params;   /* struct step_params [seq + 1]: token t is at position n_past + t */
    vkr_buffer *q;        /* fp32 [T, n_heads head_dim] out */
    vkr_buffer *k_cache;  /* fp16 [ctx, n_kv_heads head_dim] out at rows kv_base + n_past.. */
    vkr_buffer *v_cache;  /* fp16 [ctx, n_kv_heads head_dim] out */
    uint32_t n_heads, n_kv_heads, head_dim, n_tokens, max_pos, ctx;
    uint32_t row0;        /* the n_tokens tokens are rows row0.. of qkv and q (batched sequences) */
    uint32_t seq;         /* which step_params entry (sequence) they belong to */
} kern_rope_args;
/* NeoX-style rotary embedding (pairs (i, i + head_dim/2)) of q and k, and the
 * K/V cache write. */
void kern_rope(vkr_cmd *cmd, const kern_rope_args *a);
/* Fills the cos/sin table of kern_rope_args (host side, computed in double):
 * out[(p * head_dim/2 + i) * 2 + {0, 1}] = {cos, sin}(p * f_i) * mscale with
 * f_i = theta^(-2i/head_dim) / divisors[i] (divisors: NULL = all 1, else
 * head_dim/2 LongRoPE factors), for positions p < max_pos. out holds
 * max_pos * head_dim floats. */
void kern_rope_table(float *out, uint32_t max_pos, uint32_t head_dim, double theta, const float *divisors,
                    double mscale);

typedef struct kern_attention_args {
    vkr_buffer *q;        /* fp32 [T, n_heads head_dim] */
    vkr_buffer *k_cache;  /* fp16 [ctx, n_kv_heads head_dim] */
    vkr_buffer *v_cache;
    vkr_buffer *params;   /* step_params[seq]: query t is at position n_past + t and sees keys <= it */
    vkr_buffer *scratch;  /* partials (fp16 o, fp32 m and l), kern_attention_scratch_bytes(); n_split > 1 */
    vkr_buffer *out;      /* fp16 [T, ld(n_heads head_dim)] */
    uint32_t n_heads, n_kv_heads, head_dim, n_tokens;
    uint32_t window;      /* sliding window (0 = none) */
    uint32_t n_split;     /* key ranges per query and head (1 = no split) */
    uint32_t row0;        /* the queries are rows row0.. of q and out (batched sequences) */
    uint32_t seq;         /* which step_params entry (sequence) they belong to */
} kern_attention_args;
/* Causal (optionally windowed, grouped-query) attention with fp32 softmax and
 * scale 1/sqrt(head_dim); with n_split > 1 the keys are split into ranges
 * whose partial results are merged by a second dispatch. */
void kern_attention(vkr_cmd *cmd, const kern_attention_args *a);
/* Bytes of scratch kern_attention needs for these sizes. */
uint64_t kern_attention_scratch_bytes(uint32_t n_heads, uint32_t head_dim, uint32_t n_tokens, uint32_t n_split);

typedef struct kern_silu_mul_args {
    vkr_buffer *gate_up;  /* fp32 [T, 2 n_ff]: gate = first half */
    vkr_buffer *out;      /* fp16 [T, ld(n_ff)] */
    uint32_t n_ff, n_tokens;
} kern_silu_mul_args;
void kern_silu_mul(vkr_cmd *cmd, const kern_silu_mul_args *a);

typedef struct kern_argmax_args {
    vkr_buffer *logits;   /* fp32 [T, n_vocab] */
    vkr_buffer *out;      /* uint32 [T]: index of the largest logit (lowest index on ties) */
    uint32_t n_vocab, n_tokens;
} kern_argmax_args;
void kern_argmax(vkr_cmd *cmd, const kern_argmax_args *a);

#endif
