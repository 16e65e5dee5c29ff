/* Private to the vk/ops_*.c files (and the kernel tests): argument checks
 * that fail a recording, and the tuning hooks of attention, matmul and argmax. */
#ifndef PHI3VK_VK_OPS_INTERNAL_H
#define PHI3VK_VK_OPS_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "vk/ops.h"

/* Marks the recording failed with "op: message" (printf-style): the context's
 * error is set and a dispatch without pipeline is recorded, which vkr_cmd_end
 * then reports as "<cmd>: dispatch N (op) has no pipeline: op: message". */
void vkr_op_fail(vkr_cmd *cmd, const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* 0 when buf is non-NULL and holds at least need bytes; otherwise fails the
 * recording with "op: <what> buffer <name> has N bytes, needs M" and
 * returns -1. */
int vkr_op_need(vkr_cmd *cmd, const char *op, const char *what, const vkr_buffer *buf, uint64_t need);

/* How vkr_op_attention lays its lanes out (see shaders/attention.comp).
 * vkr_op_attention picks one from the device; tests force others so the
 * GPU layouts are exercised on lavapipe too. */
typedef struct vkr_attn_tune {
    uint32_t lanes_per_key; /* L: lanes sharing one key's dot product; power of two */
    uint32_t key_slots;     /* KS: keys in flight per query row; L * KS a power of two <= subgroup */
    uint32_t rows;          /* QB: query rows (token, head) per workgroup */
    uint32_t key_block;     /* KB: keys per slot per step, one softmax rescale each (0 = 1) */
    uint32_t subgroup;      /* required subgroup size (0: the device's default) */
} vkr_attn_tune;

/* The layout vkr_op_attention uses for these arguments with device profile
 * p on device d. */
vkr_attn_tune vkr_attention_tune(const vkr_device_profile *p, const vkr_device_info *d, const vkr_attention_args *a);
/* vkr_op_attention with an explicit layout; fails the recording when the
 * layout does not fit the device (L * KS above the subgroup size). */
void vkr_op_attention_tuned(vkr_cmd *cmd, const vkr_attention_args *a, const vkr_attn_tune *tune);

/* Which kernel vkr_op_matmul records, and the tiles of the shared-memory one.
 * vkr_op_matmul picks from the device and the token count; tests force the
 * GPU kernel (and other tiles) so it is exercised on lavapipe too. */
typedef enum vkr_matmul_kernel {
    VKR_MATMUL_MATVEC,   /* matvec.comp: few tokens (decode) */
    VKR_MATMUL_REGISTER, /* matmul.comp: register-blocked, no shared memory (CPU devices) */
    VKR_MATMUL_TILED,    /* matmul_tiled.comp: coalesced loads into shared-memory tiles (GPUs) */
} vkr_matmul_kernel;

typedef struct vkr_matmul_tune {
    vkr_matmul_kernel kernel;
    uint32_t bm, bn, bk; /* TILED: BM rows x BN tokens per workgroup, BK halves (multiple of 8) per step */
    uint32_t tm, tn;     /* TILED: rows x tokens per invocation; (bm / tm) * (bn / tn) invocations */
} vkr_matmul_tune;

/* The kernel (and tiles) vkr_op_matmul uses for these arguments with device
 * profile p on device d (whose limits size the tiles). */
vkr_matmul_tune vkr_matmul_tune_for(const vkr_device_profile *p, const vkr_device_info *d, const vkr_matmul_args *a);
/* vkr_op_matmul with an explicit kernel; fails the recording when the tiles
 * do not divide (bm % tm, bn % tn, bk % 8) or do not fit the device's
 * workgroup size or shared memory. */
void vkr_op_matmul_tuned(vkr_cmd *cmd, const vkr_matmul_args *a, const vkr_matmul_tune *tune);

/* vkr_op_argmax with an explicit workgroup size (1 .. the device's maximum):
 * tests run the GPU's multi-subgroup reduction on lavapipe too. */
void vkr_op_argmax_wg(vkr_cmd *cmd, const vkr_argmax_args *a, uint32_t wg);

#endif
