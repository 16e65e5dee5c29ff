/* phi3vk bench: llama-bench-style numbers for Phi-3 on any Vulkan device,
 * each row carrying proof that the device computed the right thing and
 * enough about the machine to compare it with rows from elsewhere.
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
 * Tests (one row each per device, depth and --parallel):
 *   ppN        prefill: one eng_step of an N-token prompt per sequence after
 *              the cache is cut back to the depth; t/s = tokens / wall time.
 *   tgN        generation: N greedy decode steps, one token per sequence
 *              each, feeding the previous step's id; t/s = tokens / time.
 *   ppP+tgN    (-pg P,N) the prompt, then N decode steps, timed as one;
 *              t/s = (P + N) x sequences / time (llama-bench's pg).
 *   @dD        the test runs after D tokens are already in the KV cache.
 *   @pN        N sequences at once (--parallel): their prompts share the
 *              passes, and they decode in lockstep (one pass per step).
 * Each test runs once to warm up, then `reps` times. A row gives every
 * sample (tokens/s and ns), their mean and sample standard deviation
 * (n - 1), the p50/p90/p99 of the repetitions' times, and the time to the
 * first token (TTFT: the prompt pass, or a tg's first step) and per output
 * token after it (TPOT: decode time / steps) where the test has them.
 *
 * Every row also holds the attestation (engine/check.h: a fixed small model
 * on the device), the model check (bench/model_check.h: the measured model
 * itself against the C reference), the host (bench/host.h) and the row
 * schema's version, BENCH_SCHEMA_VERSION. */
#ifndef PHI3VK_BENCH_BENCH_H
#define PHI3VK_BENCH_BENCH_H
#include <stddef.h>
#include <stdint.h>

#include "bench/host.h"
#include "bench/model_check.h"
#include "bench/text.h"
#include "engine/check.h"
#include "model/tensors.h"
#include "vk/vkr.h"

/* Version of the row fields (names, units, meanings) of every bench output:
 * bench rows, bench --kernels rows and bench-compare rows. Bumped when a
 * field changes meaning or goes away; new fields do not bump it. */
#define BENCH_SCHEMA_VERSION 1

#define BENCH_MAX_LIST 16     /* most values in -p, -n, -d, -pg lists */
#define BENCH_MAX_DEVICES 16  /* most --device entries */
#define BENCH_MAX_REPS 100    /* most repetitions */
#define BENCH_MAX_OPS 32      /* most distinct ops in a profile */
#define BENCH_MAX_PARALLEL 64 /* most --parallel sequences */

/* Called with one line of progress (no newline), e.g. "pp512 rep 2/5". */
typedef void (*bench_progress_fn)(void *user, const char *msg);

typedef struct bench_opts {
    const char *model;             /* -m: HF folder or GGUF file; NULL when synthetic is set */
    const char *synthetic;         /* --synthetic: a phi3_synth_preset name ("phi3-mini", "tiny") */
    int layers;                    /* --layers: > 0 runs only the first N layers (full width) */
    phi3_quant weights;            /* --weights: the matrices' storage (eng_model_opts.weights) */
    int load_threads;              /* -t: eng_model_opts.load_threads (0: one per processor) */
    uint64_t seed;                 /* --seed of the synthetic weights (same as `phi3vk synth --seed`) */
    int pp[BENCH_MAX_LIST], n_pp;  /* -p: prompt lengths; 0 entries are skipped */
    int tg[BENCH_MAX_LIST], n_tg;  /* -n: generation lengths; 0 entries are skipped */
    int pg[BENCH_MAX_LIST][2], n_pg; /* -pg P,N: prompt then generation, timed together */
    int depth[BENCH_MAX_LIST], n_depth; /* -d: KV cache depths the tests start at */
    int parallel;                  /* --parallel: sequences per test (1 .. BENCH_MAX_PARALLEL) */
    int n_batch;                   /* -b: most tokens per pass (llama-bench's n_batch); 0: the
                                      longest prompt, so a ppN test is one pass per sequence */
    int reps;                      /* -r: measured repetitions after one warm-up, 1 .. BENCH_MAX_REPS */
    int profile;                   /* --profile: per-op GPU times of the last repetition of each test */
    int no_model_check;            /* --no-model-check: skip bench/model_check.h (the row says so) */
    int ref_threads;               /* host threads of the model check's reference; 0: all CPUs */
    const char *devices[BENCH_MAX_DEVICES]; /* --device selectors (index or name substring) */
    int n_devices;                 /* 0: the default device */
    int validate;                  /* Khronos validation layer on the runtimes bench creates */
    const char *cache_dir;         /* pipeline cache folder (vkr_ctx_opts.cache_dir) */
    const char *device_profile;    /* --device-profile (vkr_ctx_opts.device_profile) */
    int no_self_test;              /* --no-self-test: skip the device self-test (engine/selftest.h) */
    vkr_ctx *vk;                   /* if set, bench this runtime only (not owned; devices, validate,
                                      profile and cache_dir are then its own) */
    bench_progress_fn progress;    /* NULL: silent */
    void *progress_user;
} bench_opts;

/* pp {512}, tg {128}, depth {0}, 1 sequence, 5 repetitions, seed 1, everything else 0. */
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

/* GPU time per op of the last repetition's last step: the prompt pass (pp)
 * or a decode step (tg, pg). */
typedef struct bench_profile {
    int n_ops;
    bench_op ops[BENCH_MAX_OPS];   /* largest ms first */
    int tokens;          /* tokens that step processed */
    double op_ms;        /* sum of the op times */
    double wall_ms;      /* host wall time of the same step: the gap is submit/CPU overhead */
} bench_profile;

/* Latency statistics of a set of samples, in ns (NaN: not applicable). */
typedef struct bench_latency {
    double avg, p50, p90, p99;
} bench_latency;

/* What a judge row adds (bench/judge.h); zero in model rows. */
typedef struct bench_judge_info {
    int items;                     /* items per repetition */
    int batch;                     /* items per engine pass (--batch) */
    int reason;                    /* 1: --reason (greedy answer and reason) */
    char prompt[64];               /* the prompt's name */
    char dataset[256];             /* the -f file */
    char dataset_sha256[65];       /* sha256 of the items' texts in order (same set, same hash) */
    double items_per_s;            /* mean over the repetitions */
    double prompt_tokens;          /* chat-wrapped prompt tokens per repetition */
    double generated_tokens;       /* tokens generated per repetition (--reason) */
    char *labels;                  /* one letter per item, in order: t(oxic), n(on-toxic),
                                      u(nparsable), e(rror); malloc'd, owned by the report */
} bench_judge_info;

/* One result row: one test on one device. */
typedef struct bench_row {
    char kind[8];                  /* "model" (pp/tg/pg) or "judge" */
    vkr_device_info dev;           /* name, vendor, type, driver, api_version, subgroup size ... */
    char driver_version[32];       /* vkr_driver_version_str */
    char vulkan_api[16];           /* "1.3.230" */
    bench_host host;               /* CPU, OS, loader, compiler, ... */
    bench_clocks clocks;           /* the device's clocks right after the test */
    char model[256];               /* "synthetic:phi3-mini" or the path given */
    uint64_t model_params;         /* eng_model_params */
    uint64_t model_bytes;          /* eng_model_weight_bytes (bytes per weight: / model_params) */
    char model_type[96];           /* eng_model_weight_types in lower case: "f16", "q4_k 86%, q6_k 14%" */
    int model_layers;              /* layers run */
    char test[64];                 /* "pp512", "tg128@p4", "pp512+tg128@d1024", "judge@b8" */
    int n_prompt, n_gen, depth;    /* the test's sizes per sequence (n_prompt 0 for tg, n_gen 0 for pp) */
    int parallel;                  /* sequences (--parallel) */
    int n_batch;                   /* most tokens per pass */
    int reps;                      /* number of samples */
    double samples[BENCH_MAX_REPS];/* tokens/s of each repetition */
    double samples_ns[BENCH_MAX_REPS]; /* wall time of each repetition, ns */
    double mean, sd;               /* tokens/s: mean and sample standard deviation (0 when reps 1) */
    double mean_ns, sd_ns;         /* the same of samples_ns */
    bench_latency latency;         /* of a repetition (model), of an item (judge) */
    bench_latency ttft, tpot;      /* time to first token, per output token after it */
    bench_judge_info judge;
    uint64_t device_bytes;         /* weights + context (KV cache, scratch), bytes */
    uint64_t host_rss_bytes;       /* peak resident set of the process so far (getrusage) */
    eng_check_result check;        /* attestation on this device */
    bench_model_check model_check; /* the measured model against the C reference */
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
 * runs the attestation and the model check, runs the tests. Returns 0 with
 * the rows in *out (bench_report_free it), or -1 with err naming the device
 * or option (bad sizes, context too long for the model, out of memory, a
 * device error) and no rows. A failing check is not an error: the rows say
 * check fail / model_check fail. */
int bench_run(const bench_opts *o, bench_report *out, char *err, size_t errlen);
void bench_report_free(bench_report *r);

/* 1 when every row's attestation passed and no model check failed. */
int bench_report_valid(const bench_report *r);

/* The current time in UTC as "2026-11-28T08:59:00Z" (the date field of rows). */
void bench_utc_now(char *buf, size_t len);

/* The report as text (malloc'd, NUL-terminated; caller frees; NULL when out
 * of memory):
 *   md     a device table, a result table (one row per test) and, with
 *          profiles, one per-op table per test;
 *   csv    a header line and one line per row (RFC 4180 quoting); lists
 *          ';'-separated, the profile as "op:calls:ms;...";
 *   json   one array of row objects (every field, profile nested);
 *   jsonl  the same objects, one per line.
 * The fields, in CSV column order, are listed in the README ("Benchmark
 * rows"). */
char *bench_report_format(const bench_report *r, bench_format fmt);

#endif
