/* phi3vk bench: llama-bench-style throughput numbers for Phi-3 on any
 * Vulkan device, each row carrying proof that the device computed the right
 * thing (bench/check.h).
 *
 *   bench_opts o;
 *   bench_opts_defaults(&o);                 // pp512, tg128, 5 repetitions
 *   o.synthetic = "phi3-mini"; o.layers = 4;
 *   bench_report rep;
 *   if (bench_run(&o, &rep, err, sizeof err) == 0) {
 *       char *text = bench_report_format(&rep, BENCH_FMT_MD);
 *       ...; free(text); bench_report_free(&rep);
 *   }
 *
 * Tests (one row each per device and depth):
 *   ppN  prefill: eng_ctx_eval of an N-token prompt after the cache is cut
 *        back to the depth; tokens/s = N / wall time of the eval.
 *   tgN  generation: N eng_ctx_decode_greedy steps, one token at a time,
 *        each feeding the previous step's id; tokens/s = N / wall time.
 *   @dD  the test runs after D tokens are already in the KV cache.
 * Each test runs once to warm up, then `reps` times; the row gives every
 * sample and their mean and sample standard deviation (n - 1). */
#ifndef PHI3VK_BENCH_BENCH_H
#define PHI3VK_BENCH_BENCH_H
#include <stddef.h>
#include <stdint.h>

#include "engine/check.h"
#include "model/tensors.h"
#include "vk/vkr.h"

#define BENCH_MAX_LIST 16     /* most values in -p, -n, -d lists */
#define BENCH_MAX_DEVICES 16  /* most --device entries */
#define BENCH_MAX_REPS 100    /* most repetitions */
#define BENCH_MAX_OPS 32      /* most distinct ops in a profile */

typedef enum bench_format { BENCH_FMT_MD, BENCH_FMT_CSV, BENCH_FMT_JSON, BENCH_FMT_JSONL } bench_format;

/* Called with one line of progress (no newline), e.g. "pp512 rep 2/5". */
typedef void (*bench_progress_fn)(void *user, const char *msg);

typedef struct bench_opts {
    const char *model;             /* -m: HF folder or GGUF file; NULL when synthetic is set */
    const char *synthetic;         /* --synthetic: a phi3_synth_preset name ("phi3-mini", "tiny") */
    int layers;                    /* --layers: > 0 runs only the first N layers (full width) */
    phi3_quant weights;            /* --weights: the matrices' storage (eng_model_opts.weights) */
    uint64_t seed;                 /* --seed of the synthetic weights (same as `phi3vk synth --seed`) */
    int pp[BENCH_MAX_LIST], n_pp;  /* -p: prompt lengths; 0 entries are skipped */
    int tg[BENCH_MAX_LIST], n_tg;  /* -n: generation lengths; 0 entries are skipped */
    int depth[BENCH_MAX_LIST], n_depth; /* -d: KV cache depths the tests start at */
    int reps;                      /* -r: measured repetitions after one warm-up, 1 .. BENCH_MAX_REPS */
    int profile;                   /* --profile: per-op GPU times of the last repetition of each test */
    const char *devices[BENCH_MAX_DEVICES]; /* --device selectors (index or name substring) */
    int n_devices;                 /* 0: the default device */
    int validate;                  /* Khronos validation layer on the runtimes bench creates */
    const char *cache_dir;         /* pipeline cache folder (vkr_ctx_opts.cache_dir) */
    const char *device_profile;    /* --device-profile (vkr_ctx_opts.device_profile) */
    int no_self_test;              /* --no-self-test: skip the device self-test (bench/selftest.h) */
    vkr_ctx *vk;                   /* if set, bench this runtime only (not owned; devices, validate,
                                      profile and cache_dir are then its own) */
    bench_progress_fn progress;    /* NULL: silent */
    void *progress_user;
} bench_opts;

/* pp {512}, tg {128}, depth {0}, 5 repetitions, seed 1, everything else 0. */
void bench_opts_defaults(bench_opts *o);

/* One op of a profile, summed over layers. */
typedef struct bench_op {
    char op[32];         /* dispatch label: "matmul", "matvec", "attention", ... */
    int calls;           /* dispatches in one eval (pp) or one decode step (tg) */
    double ms;           /* GPU time, summed over the calls */
    double share;        /* % of bench_profile.op_ms */
    double gbps;         /* matrix ops: weight bytes read / ms, GB/s; 0 for the others */
    double gflops;       /* matrix ops: 2 x weights x tokens / ms, GFLOP/s; 0 for the others */
} bench_op;

/* GPU time per op of the last repetition's last eval (pp) or decode step (tg). */
typedef struct bench_profile {
    int n_ops;
    bench_op ops[BENCH_MAX_OPS];   /* largest ms first */
    int tokens;          /* tokens that eval / step processed */
    double op_ms;        /* sum of the op times */
    double wall_ms;      /* host wall time of the same eval / step: the gap is submit/CPU overhead */
} bench_profile;

/* One result row: one test on one device. */
typedef struct bench_row {
    vkr_device_info dev;           /* name, vendor, type, driver, api_version, subgroup size ... */
    char driver_version[32];       /* vkr_driver_version_str */
    char vulkan_api[16];           /* "1.3.230" */
    char model[256];               /* "synthetic:phi3-mini" or the path given */
    uint64_t model_params;         /* eng_model_params */
    uint64_t model_bytes;          /* eng_model_weight_bytes (bytes per weight: / model_params) */
    char model_type[48];           /* eng_model_weight_types in lower case: "f16", "q4_k 86%, q6_k 14%" */
    int model_layers;              /* layers run */
    char test[48];                 /* "pp512", "tg128", "pp512@d1024" */
    int n_prompt, n_gen, depth;    /* the test's sizes (n_prompt 0 for tg, n_gen 0 for pp) */
    int reps;                      /* number of samples */
    double samples[BENCH_MAX_REPS];/* tokens/s of each repetition */
    double mean, sd;               /* tokens/s: mean and sample standard deviation (0 when reps 1) */
    uint64_t device_bytes;         /* weights + context (KV cache, scratch), bytes */
    uint64_t host_rss_bytes;       /* peak resident set of the process so far (getrusage) */
    eng_check_result check;      /* attestation on this device */
    char device_profile[16];       /* the device profile whose kernels ran (vkr.h) */
    char fallbacks[128];           /* kernels on their portable variant after the self-test ("none") */
    int has_profile;               /* profile is filled (--profile) */
    bench_profile profile;
    char date[32];                 /* UTC ISO 8601 time the row was measured, "2024-06-11T09:30:00Z" */
} bench_row;

typedef struct bench_report {
    bench_row *rows;               /* [n_rows], malloc'd */
    int n_rows;
    const char *version;           /* PHI3VK_VERSION */
    const char *commit;            /* PHI3VK_COMMIT (git commit at build time) */
} bench_report;

/* Runs every test on every device: opens the runtime, loads the model,
 * runs the correctness check, runs the tests. Returns 0 with the rows in
 * *out (bench_report_free it), or -1 with err naming the device or option
 * (bad sizes, context too long for the model, out of memory, a device
 * error) and no rows. A failing check is not an error: the rows say check
 * fail. */
int bench_run(const bench_opts *o, bench_report *out, char *err, size_t errlen);
void bench_report_free(bench_report *r);

/* The current time in UTC as "2026-11-28T08:59:00Z" (the date field of rows). */
void bench_utc_now(char *buf, size_t len);

/* Parses "md", "csv", "json" or "jsonl". Returns 0, or -1 for anything else. */
int bench_format_parse(const char *name, bench_format *out);

/* The report as text (malloc'd, NUL-terminated; caller frees; NULL when out
 * of memory):
 *   md     a Markdown table (one row per test) followed, with profiles, by
 *          one per-op table per test;
 *   csv    a header line and one line per row (RFC 4180 quoting); samples
 *          ';'-separated, the profile as "op:calls:ms;..." ;
 *   json   one array of row objects (bench_row's fields, profile nested);
 *   jsonl  the same objects, one per line. */
char *bench_report_format(const bench_report *r, bench_format fmt);

#endif
