/* phi3vk bench --kernels: the matrix kernels alone, at Phi-3-mini's shapes or
 * at shapes given with --shape, in any bench output format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kernels.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "formats/gguf.h"
#include "formats/quant.h"

#define MAX_SHAPES 16
#define MAX_TYPES 6

typedef struct shape {
    uint32_t n, k, t;
} shape;

/* Phi-3-mini: qkv, gate_up, down (and o's transpose) and lm_head; decode
 * (one token), a 4-token pass, and prefill. */
static const shape phi3_shapes[] = {
    {9216, 3072, 1},   {16384, 3072, 1},  {3072, 8192, 1},  {32064, 3072, 1},  {9216, 3072, 4},
    {9216, 3072, 64},  {16384, 3072, 64}, {3072, 8192, 64}, {9216, 3072, 512},
};

/* "NxK" or "NxKxT" with N, K in [1, 1<<20] and T in [1, 4096]. */
static int parse_shape(const char *v, shape *s) {
    unsigned long x[3] = {0, 0, 1};
    const char *p = v;
    int n = 0, ok = 1;
    for (;;) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9' || (x[n] = strtoul(p, &end, 10), errno)) {
            ok = 0;
            break;
        }
        p = end, n++;
        if (!*p) break;
        if (*p != 'x' || n == 3) {
            ok = 0;
            break;
        }
        p++;
    }
    if (!ok || n < 2 || !x[0] || !x[1] || !x[2] || x[0] > (1u << 20) || x[1] > (1u << 20) || x[2] > 4096) {
        cli_error("bench", "--shape: expected NxK or NxKxT (rows, columns, tokens; N, K <= 1048576, "
                           "T <= 4096), found '%s'",
                  v);
        return -1;
    }
    *s = (shape){(uint32_t)x[0], (uint32_t)x[1], (uint32_t)x[2]};
    return 0;
}

/* "f16,q4_0,..." into FMT_GGML_* ids (at most MAX_TYPES). */
static int parse_types(const char *v, uint32_t *types, int *n) {
    char buf[128];
    if (strlen(v) >= sizeof buf) {
        cli_error("bench", "--weights: list too long ('%s')", v);
        return -1;
    }
    strcpy(buf, v);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_TYPES || fmt_quant_parse(tok, &types[*n])) {
            cli_error("bench", "--weights: expected a list of up to %d of f16, q8_0, q4_0, q4_k, q5_k, q6_k; "
                               "found '%s'",
                      MAX_TYPES, tok);
            return -1;
        }
        (*n)++;
    }
    if (!*n) {
        cli_error("bench", "--weights: expected f16, q8_0, q4_0, q4_k, q5_k or q6_k, found '%s'", v);
        return -1;
    }
    return 0;
}

int cmd_bench_kernels(int argc, char **argv) {
    const char *device = NULL;
    int reps = 20, samples = 5, n_shapes = 0, quiet = 0, n_types = 1;
    uint32_t types[MAX_TYPES] = {FMT_GGML_F16};
    bench_format fmt = BENCH_FMT_MD;
    shape shapes[MAX_SHAPES];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--kernels")) continue;
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            cli_error("bench", "--kernels: %s needs a value or is unknown (see --help)", a);
            return 2;
        }
        i++;
        long long x;
        if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (cli_parse_int("bench", a, v, 1, 1000, &x)) return 2;
            reps = (int)x;
        } else if (!strcmp(a, "--samples")) {
            if (cli_parse_int("bench", a, v, 1, BENCH_KERNEL_MAX_SAMPLES, &x)) return 2;
            samples = (int)x;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (bench_format_parse(v, &fmt)) {
                cli_error("bench", "--kernels -o: expected md, csv, json or jsonl, found '%s'", v);
                return 2;
            }
        } else if (!strcmp(a, "--weights")) {
            if (parse_types(v, types, &n_types)) return 2;
        } else if (!strcmp(a, "--shape")) {
            if (n_shapes == MAX_SHAPES) {
                cli_error("bench", "--shape: at most %d shapes", MAX_SHAPES);
                return 2;
            }
            if (parse_shape(v, &shapes[n_shapes++])) return 2;
        } else {
            cli_error("bench", "--kernels takes --shape, --weights, -r, --samples, -o, -q and --device; found '%s'", a);
            return 2;
        }
    }
    if (!n_shapes) {
        n_shapes = (int)(sizeof phi3_shapes / sizeof phi3_shapes[0]);
        memcpy(shapes, phi3_shapes, sizeof phi3_shapes);
    }
    char err[1024];
    vkr_ctx *ctx = vkr_ctx_create(&(vkr_ctx_opts){.device = device}, err, sizeof err);
    if (!ctx) {
        cli_error("bench", "%s", err);
        return 1;
    }
    static bench_kernel_result res[MAX_SHAPES * MAX_TYPES];
    int rc = 0, n = 0;
    for (int i = 0; i < n_shapes * n_types; i++, n++) { /* shape i / n_types with type i % n_types */
        const shape *sh = &shapes[i / n_types];
        int k = sh->t >= 64 ? (reps + 9) / 10 : reps; /* a prefill dispatch takes ~10x longer */
        if (bench_kernel_matmul(ctx, types[i % n_types], sh->n, sh->k, sh->t, k, samples, &res[i], err, sizeof err)) {
            cli_error("bench", "%s", err);
            rc = 1;
            break;
        }
        if (!quiet)
            fprintf(stderr, "phi3vk bench: %s: %.3f ms, %.2f GB/s, %.2f GFLOP/s, check nmse %.1e\n", res[i].name,
                    res[i].ms, res[i].gbps, res[i].gflops, res[i].check_nmse);
        if (!(res[i].check_nmse <= BENCH_KERNEL_NMSE)) {
            cli_error("bench", "%s: result differs from the C reference (nmse %.3g > %.0e)", res[i].name,
                      res[i].check_nmse, BENCH_KERNEL_NMSE);
            rc = 1;
        }
    }
    char *text = n ? bench_kernels_format(res, n, ctx, fmt) : NULL;
    if (n && !text) {
        cli_error("bench", "out of memory formatting the results");
        rc = 1;
    }
    if (text) fputs(text, stdout);
    free(text);
    vkr_ctx_destroy(ctx);
    return rc;
}
