/* Helpers for tests that run kernels on the Vulkan device (lavapipe in CI). */
#ifndef PHI3VK_TEST_VKTEST_H
#define PHI3VK_TEST_VKTEST_H
#include <stdint.h>

#include "vk/vkr.h"

/* A context with the validation layer on and no disk pipeline cache; skips
 * the test (exit 77) when there is no Vulkan device at all. */
vkr_ctx *vkt_ctx(void);
/* Destroys ctx; returns the number of validation messages it saw (a test
 * CHECKs that this is 0). */
int vkt_ctx_done(vkr_ctx *ctx);

/* Rounds every value to fp16 precision in place (so CPU references see the
 * same inputs as the device). */
void vkt_round_f16(float *x, uint64_t n);
/* A VKR_BUF_WEIGHT buffer holding fp16(w) [rows, cols] with row stride
 * ld(cols) (pad zero). */
vkr_buffer *vkt_weight(vkr_ctx *ctx, const char *name, const float *w, uint32_t rows, uint32_t cols);
/* A weight of dtype (FMT_GGML_F16 or a block type) holding w [rows, cols]
 * quantized (or rounded) as a file would store it, in the device layout;
 * w is replaced by the values the device holds (dequantized), so a CPU
 * reference on w computes what the kernels should. */
vkr_buffer *vkt_weight_q(vkr_ctx *ctx, const char *name, uint32_t dtype, float *w, uint32_t rows, uint32_t cols);
/* A VKR_BUF_DEVICE buffer holding fp16(x) [rows, ld(cols)]. */
vkr_buffer *vkt_f16(vkr_ctx *ctx, const char *name, const float *x, uint32_t rows, uint32_t cols);
/* A VKR_BUF_DEVICE buffer holding raw bytes (fp32 activations, ids). */
vkr_buffer *vkt_raw(vkr_ctx *ctx, const char *name, const void *data, uint64_t bytes);
/* Reads fp16 [rows, ld(cols)] back as fp32 [rows, cols]. */
int vkt_read_f16(vkr_ctx *ctx, vkr_buffer *b, float *out, uint32_t rows, uint32_t cols);

#endif
