/* What bench/run.c, bench/tests.c and bench/judge.c share: the state of one
 * device's run and the pieces every row is built from. Private to bench/. */
#ifndef PHI3VK_BENCH_INTERNAL_H
#define PHI3VK_BENCH_INTERNAL_H
#include <stdarg.h>

#include "bench/bench.h"
#include "engine/engine.h"
#include "model/synth.h"

/* One test of a model run. */
typedef struct bench_test {
    int depth;                     /* tokens in each sequence's cache before it */
    int n_prompt, n_gen;           /* per sequence; pp: n_gen 0, tg: n_prompt 0, pg: both */
    int parallel;                  /* sequences */
} bench_test;

/* What one device's model tests share. */
typedef struct bench_state {
    const bench_opts *o;
    vkr_ctx *vk;
    eng_model *m;
    eng_ctx *c;
    phi3_synth_opts synth;  /* the synthetic model's options (o->synthetic) */
    bench_row proto;     /* device, host, model, checks and memory fields copied into each row */
    int32_t *tokens;     /* [n_ctx] prompt ids */
    int filled_depth;    /* every sequence holds tokens[0, filled_depth) (-1: unknown) */
    bench_report *out;
} bench_state;

/* Calls fn(user, message) with the formatted message when fn is set. */
void bench_say(bench_progress_fn fn, void *user, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Empties *r and sets its version and commit (the build's). */
void bench_report_init(bench_report *r);

/* Appends a copy of proto to r. NULL with err when out of memory. */
bench_row *bench_new_row(bench_report *r, const bench_row *proto, char *err, size_t errlen);

/* The device, driver, profile, fallback and host fields of a row. */
void bench_proto_device(bench_row *p, vkr_ctx *vk);
/* The model fields of a row (name as given). */
void bench_proto_model(bench_row *p, eng_model *m, const char *name);
/* The attestation, then (unless skip) the model check of m, with progress. */
void bench_proto_checks(bench_row *p, vkr_ctx *vk, eng_model *m, const bench_model_source *src, int skip,
                        int threads, bench_progress_fn fn, void *user);

/* Fills the row's samples from the repetitions' wall times total_s[0, reps)
 * and the tokens (or items) each one handled: samples (per second), ns,
 * mean and sd of both and the latency percentiles of a repetition. */
void bench_row_samples(bench_row *row, const double *total_s, int reps, double units);
/* Average and percentiles of x[0, n) seconds, in ns (all NaN when n is 0). */
void bench_latency_of(const double *x, int n, bench_latency *out);
/* The last fields of a row: peak RSS, clocks, date. */
void bench_row_finish(bench_row *row, vkr_ctx *vk);

/* Runs one model test on s (warm-up and repetitions) and appends its row.
 * Returns 0, or -1 with err. */
int bench_run_test(bench_state *s, const bench_test *t, char *err, size_t errlen);

#endif
