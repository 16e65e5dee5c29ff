/* Kernel micro-benchmarks: one op at a time on the device. A timing is one
 * submit of a command buffer holding reps dispatches; a kernel is timed
 * `samples` times and reported by the median (robust to a busy host) with the
 * fastest and slowest sample beside it. */
#ifndef PHI3VK_BENCH_KERNELS_H
#define PHI3VK_BENCH_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#include "vk/vkr.h"

typedef struct bench_kernel_result {
    char name[64];       /* e.g. "matvec 9216x3072 t=1" */
    uint32_t n, k, t;    /* the shape: W [n, k] by t tokens */
    int reps;            /* dispatches per timing */
    int samples;         /* timings taken */
    double ms;           /* median over the samples of the wall time per dispatch */
    double ms_min, ms_max;
    double gbps;         /* weight bytes read per second / 1e9, at the median */
    double gbps_max, gbps_min; /* at the fastest and the slowest sample */
    double gflops;       /* 2 n k t / time / 1e9, at the median */
    double check_nmse;   /* device result vs C reference on the first rows */
} bench_kernel_result;

/* Times kern_matmul on W [n, k] fp16 (random) by t tokens: after a warm-up,
 * `samples` (1..100) submits of reps dispatches each. Also checks the output
 * against a C reference on up to 64 rows of every token (check_nmse). Returns
 * 0, or -1 with the reason in err. */
int bench_kernel_matmul(vkr_ctx *ctx, uint32_t n, uint32_t k, uint32_t t, int reps, int samples,
                        bench_kernel_result *out, char *err, size_t errlen);

/* One result as a JSON object on one line (malloc'd, no newline; NULL when out
 * of memory): phi3vk version and commit, date, the device and driver fields
 * of `phi3vk bench` rows, the kernel, its shape, reps and the timings. */
char *bench_kernel_json(const bench_kernel_result *r, const vkr_device_info *d);

#endif
