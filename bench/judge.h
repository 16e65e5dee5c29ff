/* bench --judge: the toxicity judge's own workload, measured like the model
 * tests so it compares across devices. The judge's items (~230-280-token
 * prompts sharing the instructions before the text) go through judge/'s
 * classifier exactly as `phi3vk classify` runs them: batches of `batch`
 * items per engine pass, the KV cache of the shared prompt prefix reused,
 * label-only (one prompt pass per item) or with --reason (greedy decoding
 * of up to 56 tokens, in lockstep across the batch).
 *
 * One untimed warm-up batch, then `reps` repetitions over all the items. A
 * row reports:
 *   avg_ts / samples_ts  prompt tokens per second of each repetition
 *   items_per_s          items per second (mean of the repetitions)
 *   p50/p90/p99_ns       per-item latency: the wall time of the item's
 *                        batch (its items come back together)
 *   ttft_*               the batch's prompt pass, per item
 *   tpot_*               --reason: decode time per lockstep step, per item
 *   judge_labels         each item's label, one letter, for checking that
 *                        devices agree (and that classify agrees)
 * plus the attestation, the model check and the host, as every bench row. */
#ifndef PHI3VK_BENCH_JUDGE_H
#define PHI3VK_BENCH_JUDGE_H
#include <stddef.h>

#include "bench/bench.h"
#include "judge/classifier.h"
#include "judge/dataset.h"

typedef struct bench_judge_opts {
    eng_model *m;                  /* the judge (not owned) */
    eng_ctx *c;                    /* the classifier's context (not owned; for its memory) */
    judge_classifier *cl;          /* over m and c, c of >= batch sequences (not owned) */
    const judge_dataset *ds;       /* the items: ds->items[idx[i]], i < n */
    const int *idx;
    int n;
    int batch;                     /* items per engine pass (the context's sequences) */
    int reason;                    /* the classifier generates reasons */
    const char *model_name;        /* the row's model_name (the repo id or path given) */
    const char *prompt_name;       /* the prompt's name */
    bench_model_source src;        /* the judge's weights for the model check */
    int no_model_check;            /* --no-model-check */
    int ref_threads;               /* the model check's host threads; 0: all CPUs */
    int reps;                      /* repetitions over all the items, 1 .. BENCH_MAX_REPS */
    bench_progress_fn progress;    /* NULL: silent */
    void *progress_user;
} bench_judge_opts;

/* Runs the checks, the warm-up and the repetitions, and returns the row in
 * *out (bench_report_free it). Returns 0, or -1 with err naming the item or
 * the failing step (an item that does not fit the context under
 * --too-long error, a device error) and no rows. */
int bench_judge_run(const bench_judge_opts *o, bench_report *out, char *err, size_t errlen);

#endif
