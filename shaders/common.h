/* Shared by C (vk/, model/) and GLSL (shaders/): push-constant layouts and
 * constants. Only 4-byte scalars (uint, int, float) so std430 and C agree;
 * each struct's size is checked by a _Static_assert in vk/ops.c.
 * In C, include after <stdint.h>; the typedef below maps uint. */
#ifndef PHI3VK_SHADERS_COMMON_H
#define PHI3VK_SHADERS_COMMON_H

#ifndef GL_core_profile
typedef uint32_t uint;
#endif

/* Activations: the residual stream and matmul outputs are fp32 [T, n];
 * matmul inputs are fp16 [T, ld] with ld = n rounded up to a multiple of 8
 * (the pad stays zero). Weights are fp16 rows padded the same way and read as
 * RGBA32UI texels (8 halves each). */
#define PHI3_ALIGN 8u

struct pc_rmsnorm {        /* y[t, :] = x[t, :] * rsqrt(mean(x^2) + eps) * w */
    uint n;                /* row length */
    uint ld_out;           /* fp16 output row stride (elements) */
    uint rows;             /* tokens */
    float eps;
};

#endif
