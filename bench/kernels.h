/* Kernel micro-benchmarks: one op at a time on the device, timed over many
 * dispatches recorded into one command buffer. */
#ifndef PHI3VK_BENCH_KERNELS_H
#define PHI3VK_BENCH_KERNELS_H
#include <stdint.h>

#include "vk/vkr.h"

typedef struct bench_kernel_result {
    char name[64];       /* e.g. "matvec 9216x3072 t=1" */
    double ms;           /* mean wall time per dispatch */
    double gbps;         /* weight bytes read per second / 1e9 */
    double gflops;       /* 2 n k t / time / 1e9 */
    double check_nmse;   /* device result vs C reference on the first rows */
} bench_kernel_result;

/* Times vkr_op_matmul on W [n, k] fp16 (random) by t tokens, reps dispatches
 * after a warm-up. Also checks the output of the last dispatch against a C
 * reference on a sample of rows (check_nmse). Returns 0 or -1 (message in
 * vkr_ctx_error). */
int bench_kernel_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int reps, bench_kernel_result *out);

#endif
