/* kernels/ tuning: which variant and layout an op records, and the same
 * ops with an explicit choice. The ops pick from the device profile; the
 * kernel tests, the matrix test and `bench --kernels` force others so every
 * device class's kernels run on lavapipe too. */
#ifndef PHI3VK_KERNELS_TUNE_H
#define PHI3VK_KERNELS_TUNE_H

#include "kernels/kernels.h"

/* How kern_attention lays its lanes out (see kernels/shaders/attention_body.glsl).
 * kern_attention picks one from the device; tests force others so the
 * GPU layouts are exercised on lavapipe too. */
typedef struct kern_attn_tune {
    uint32_t lanes_per_key; /* L: lanes sharing one key's dot product; power of two */
    uint32_t key_slots;     /* KS: keys in flight per query row; L * KS a power of two <= subgroup */
    uint32_t rows;          /* QB: query rows (token, head) per workgroup */
    uint32_t key_block;     /* KB: keys per slot per step, one softmax rescale each (0 = 1) */
    uint32_t subgroup;      /* required subgroup size (0: the device's default) */
} kern_attn_tune;

/* The layout kern_attention uses for these arguments with device profile
 * p on device d. */
kern_attn_tune kern_attention_tune(const vkr_device_profile *p, const vkr_device_info *d, const kern_attention_args *a);
/* kern_attention with an explicit layout; fails the recording when the
 * layout does not fit the device (L * KS above the subgroup size). */
void kern_attention_tuned(vkr_cmd *cmd, const kern_attention_args *a, const kern_attn_tune *tune);

/* Which kernel kern_matmul records, and the tiles of the shared-memory one.
 * kern_matmul picks from the device and the token count; tests force the
 * GPU kernel (and other tiles) so it is exercised on lavapipe too. */
typedef enum kern_matmul_kernel {
    KERN_MATMUL_MATVEC,   /* matvec.comp: few tokens (decode) */
    KERN_MATMUL_REGISTER, /* matmul.comp: register-blocked, no shared memory (CPU devices) */
    KERN_MATMUL_TILED,    /* matmul_tiled.comp: coalesced loads into shared-memory tiles (GPUs) */
} kern_matmul_kernel;

typedef struct kern_matmul_tune {
    kern_matmul_kernel kernel;
    uint32_t bm, bn, bk; /* TILED: BM rows x BN tokens per workgroup, BK halves (multiple of 8) per step */
    uint32_t tm, tn;     /* TILED: rows x tokens per invocation; (bm / tm) * (bn / tn) invocations */
} kern_matmul_tune;

/* The kernel (and tiles) kern_matmul uses for these arguments with device
 * profile p on device d (whose limits size the tiles). */
kern_matmul_tune kern_matmul_tune_for(const vkr_device_profile *p, const vkr_device_info *d, const kern_matmul_args *a);
/* kern_matmul with an explicit kernel; fails the recording when the tiles
 * do not divide (bm % tm, bn % tn, bk % 8) or do not fit the device's
 * workgroup size or shared memory. */
void kern_matmul_tuned(vkr_cmd *cmd, const kern_matmul_args *a, const kern_matmul_tune *tune);

/* kern_argmax with an explicit workgroup size (1 .. the device's maximum):
 * tests run the GPU's multi-subgroup reduction on lavapipe too. */
void kern_argmax_wg(vkr_cmd *cmd, const kern_argmax_args *a, uint32_t wg);

#endif
