/* Kernel micro-benchmarks: one op at a time on the device. A timing is one
 * submit of a command buffer holding reps dispatches; a kernel is timed
 * `samples` times and reported by the median (robust to a busy host) with the
 * fastest and slowest sample beside it. Each result is checked against a C
 * reference: it passes at nmse <= BENCH_KERNEL_NMSE. */
#ifndef PHI3VK_BENCH_KERNELS_H
#define PHI3VK_BENCH_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#include "bench/text.h"
#include "vk/vkr.h"

/* Largest nmse of a kernel against the double-precision reference that
 * passes: fp16 inputs are exact in both, so only the fp32 accumulation
 * order differs (measured 1e-14 .. 4e-13 at Phi-3 shapes). */
#define BENCH_KERNEL_NMSE 1e-8
#define BENCH_KERNEL_MAX_SAMPLES 100

typedef struct bench_kernel_result {
    char name[64];       /* e.g. "matvec 9216x3072 t=1" (fp16), "matvec Q4_0 9216x3072 t=1" */
    uint32_t dtype;      /* the weight's ggml type id (FMT_GGML_F16, _Q8_0, ...) */
    uint32_t n, k, t;    /* the shape: W [n, k] by t tokens */
    int reps;            /* dispatches per timing */
    int samples;         /* timings taken */
    double ms;           /* median over the samples of the wall time per dispatch */
    double ms_min, ms_max;
    double gbps;         /* weight bytes (as stored on the device) read per second / 1e9, at the median */
    double gbps_max, gbps_min; /* at the fastest and the slowest sample */
    double bytes_per_weight; /* device bytes of W / (n k): 2 for fp16, 0.5625 for Q4_0 */
    double gflops;       /* 2 n k t / time / 1e9, at the median */
    double check_nmse;   /* device result vs C reference on the first rows */
    double samples_ms[BENCH_KERNEL_MAX_SAMPLES]; /* each timing per dispatch, in the order taken */
} bench_kernel_result;

/* Times kern_matmul on W [n, k] of dtype (FMT_GGML_F16 or a block type of
 * formats/quant.h; random values quantized on the host) by t fp16 tokens:
 * after a warm-up, `samples` (1..100) submits of reps dispatches each. Also
 * checks the output against a C reference on the values W holds (fp16, or the
 * dequantized blocks) on up to 64 rows of every token (check_nmse). Returns
 * 0, or -1 with the reason in err (a K that is not a whole number of blocks,
 * no memory). */
int bench_kernel_matmul(vkr_ctx *ctx, uint32_t dtype, uint32_t n, uint32_t k, uint32_t t, int reps, int samples,
                        bench_kernel_result *out, char *err, size_t errlen);

/* Results r[0, n) of device d as text (malloc'd; NULL when out of memory):
 * md a header line (device, driver, host, the pass bound) and a table;
 * csv, json, jsonl one row per kernel with schema_version, the phi3vk
 * version and commit, date, host (bench/host.h), device, driver, clocks,
 * kernel, shape, weights (the type name) and bytes per weight, reps, samples, ms (median, min, max, samples_ms), GB/s,
 * GFLOP/s, check (pass/fail), check_nmse and check_bound. */
char *bench_kernels_format(const bench_kernel_result *r, int n, vkr_ctx *ctx, bench_format fmt);

#endif
