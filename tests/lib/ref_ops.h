/* Plain-C references of single kernels (double accumulation), shared by the
 * kernel tests and the driver-matrix test. Inputs are what the device reads
 * (fp16-rounded where the device stores fp16). */
#ifndef PHI3VK_TEST_REF_OPS_H
#define PHI3VK_TEST_REF_OPS_H
#include <stdint.h>

/* y [t, n] (+)= w [n, k] x [t, k]^T; acc: add to y. */
void ref_matmul(const float *w, const float *x, float *y, uint32_t n, uint32_t k, uint32_t t, int acc);

/* y [t, n] = x * rsqrt(mean(x^2) + eps) * w. */
void ref_rmsnorm(const float *x, const float *w, float *y, uint32_t n, uint32_t t, float eps);

typedef struct ref_attn_shape {
    uint32_t n_heads, n_kv_heads, head_dim, n_tokens, n_past;
    uint32_t window;  /* sliding window (0: none) */
} ref_attn_shape;

/* out [T, H*D] = softmax(q k^T / sqrt(D)) v over the keys each query sees:
 * query t at position n_past + t sees keys lo..pos (lo = pos - window + 1 with
 * a window); q [T, H*D], k and v [positions, KVH*D]. */
void ref_attention(const ref_attn_shape *c, const float *q, const float *k, const float *v, float *out);

#endif
