/* Shared by C (the kernels/ sources) and GLSL (kernels/shaders/): push-constant layouts and the
 * per-step parameter block. Only 4-byte scalars (uint, float) so std430 and
 * C agree; each struct's size is checked by a _Static_assert in the kernels/ sources.
 * In C, include after <stdint.h>; the typedef below maps uint. */
#ifndef PHI3VK_SHADERS_COMMON_H
#define PHI3VK_SHADERS_COMMON_H

#ifndef GL_core_profile
typedef uint32_t uint;
#endif

/* Tensor conventions
 * - The residual stream, matmul outputs, q and logits are fp32 [T, n].
 * - Matmul inputs are fp16 [T, ld] with ld = n rounded up to PHI3_ALIGN; the
 *   pad stays zero. Weights are fp16 rows padded the same way and read as
 *   RGBA32UI texels (8 halves each).
 * - KV cache: fp16 [ctx, n_kv_heads * head_dim] per layer for K and for V. */
#define PHI3_ALIGN 8u

/* Weight dtypes (ggml type ids; the WTYPE specialization constant of the matrix
 * and embedding kernels, layouts in shaders/wtype.glsl). */
#define PHI3_WT_F16 1u
#define PHI3_WT_Q4_0 2u
#define PHI3_WT_Q8_0 8u
#define PHI3_WT_Q4_K 12u
#define PHI3_WT_Q5_K 13u
#define PHI3_WT_Q6_K 14u

/* Values that change between re-submissions of one recorded command buffer
 * live in a small host-visible buffer, not in push constants. */
struct step_params {      /* one per sequence of a context */
    uint n_past;     /* tokens already in the sequence's KV cache before this step */
    uint n_tokens;   /* tokens of the sequence in this step */
    uint kv_base;    /* cache row of the sequence's position 0 */
    uint pad0;
};

struct pc_embed {         /* x[t, :] = W[ids[t], :] */
    uint dim, ld_w, n_tokens;        /* ld_w: fp16 W's row stride (halves) */
    uint row0;                       /* first table row bound to W (0: the whole table, or its first part) */
};

struct pc_rmsnorm {       /* y[t, :] = x[t, :] * rsqrt(mean(x^2) + eps) * w */
    uint n;               /* row length */
    uint ld_out;          /* fp16 output row stride (elements) */
    uint rows;            /* tokens */
    float eps;
};

struct pc_matmul {        /* y[t, n] (+)= sum_k W[n, k] * x[t, k] */
    uint n_out;           /* N: rows of W */
    uint ld;              /* K rounded up to PHI3_ALIGN: row stride of x (and of fp16 W; a
                             block-type W has K a whole number of blocks: ld = K) */
    uint n_tokens;        /* T */
    uint accumulate;      /* 1: y += result (fused residual add) */
    uint ld_y;            /* row stride of y (N, or more when W is bound a part of its rows at a time) */
};

struct pc_rope {          /* q = rope(qkv.q); kcache[pos] = rope(qkv.k); vcache[pos] = qkv.v */
    uint n_heads, n_kv_heads, head_dim, n_tokens;
    uint max_pos;         /* rows of the cos/sin table */
    uint ctx;             /* rows of the KV cache */
    uint row0;            /* first row of this sequence's tokens in qkv and q */
    uint seq;             /* index into the step_params array */
};

struct pc_attention {     /* out[t, h, :] = softmax(q k^T * scale) v over visible keys */
    uint n_heads, n_kv_heads, head_dim, n_tokens;
    uint window;          /* sliding window W: key j visible to query i iff i - W < j <= i; 0 = none */
    uint n_split;         /* key ranges per (query, head); > 1 writes partials for attn_merge */
    uint ld_out;          /* fp16 output row stride */
    float scale;
    uint row0;            /* first row of this sequence's queries in q and out */
    uint seq;             /* index into the step_params array */
    uint pad0, pad1;
};

struct pc_silu_mul {      /* y[t, i] = silu(g[t, i]) * u[t, i], g|u = gate_up[t, :] */
    uint n_ff, ld_out, n_tokens, pad;
};

struct pc_argmax {        /* out[t] = argmax_v logits[t, v] */
    uint n_vocab, n_tokens, pad0, pad1;
};

#endif
