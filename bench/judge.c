/* bench --judge: the judge's workload timed batch by batch (see judge.h). */
#include "bench/judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "util/sha256.h"
#include "util/time.h"

/* Per-item samples of all repetitions, seconds. */
typedef struct item_times {
    double *latency, *ttft, *tpot;
    int n, n_tpot;
} item_times;

static char label_letter(judge_label l) {
    switch (l) {
    case JUDGE_TOXIC: return 't';
    case JUDGE_NON_TOXIC: return 'n';
    case JUDGE_UNPARSABLE: return 'u';
    default: return 'e';
    }
}

/* sha256 of the items' texts in order, each preceded by its length. */
static void dataset_hash(const bench_judge_opts *o, char hex[65]) {
    util_sha256 h;
    util_sha256_init(&h);
    for (int i = 0; i < o->n; i++) {
        const judge_item *it = &o->ds->items[o->idx[i]];
        char len[32];
        int k = snprintf(len, sizeof len, "%zu:", it->text_len);
        util_sha256_update(&h, len, (size_t)k);
        util_sha256_update(&h, it->text, it->text_len);
    }
    util_sha256_final(&h, hex);
}

/* Classifies items [i0, i0 + k) as one batch; fills their labels (when
 * labels is set) and the per-item times. */
static int run_batch(const bench_judge_opts *o, int i0, int k, char *labels, item_times *tm, char *err,
                     size_t errlen) {
    const judge_item *items[64];
    judge_result res[64];
    memset(res, 0, sizeof res[0] * (size_t)k);
    for (int j = 0; j < k; j++) items[j] = &o->ds->items[o->idx[i0 + j]];
    judge_classifier_stats a = judge_classifier_get_stats(o->cl);
    double t0 = util_now_s();
    int rc = judge_classify_batch(o->cl, items, k, res, err, errlen);
    double dt = util_now_s() - t0;
    judge_classifier_stats b = judge_classifier_get_stats(o->cl);
    for (int j = 0; j < k && rc == 0; j++) {
        if (labels) labels[i0 + j] = label_letter(res[j].label);
        if (!tm) continue;
        tm->latency[tm->n] = dt;
        tm->ttft[tm->n++] = b.prefill_s - a.prefill_s;
        if (b.decode_passes > a.decode_passes)
            tm->tpot[tm->n_tpot++] = (b.decode_s - a.decode_s) / (double)(b.decode_passes - a.decode_passes);
    }
    for (int j = 0; j < k; j++) free((char *)res[j].reason), free((char *)res[j].error);
    return rc;
}

/* One pass over every item; its wall time in *wall. */
static int run_items(const bench_judge_opts *o, char *labels, item_times *tm, double *wall, char *err, size_t errlen) {
    double t0 = util_now_s();
    for (int i = 0; i < o->n; i += o->batch) {
        int k = o->n - i < o->batch ? o->n - i : o->batch;
        if (run_batch(o, i, k, labels, tm, err, errlen)) return -1;
    }
    *wall = util_now_s() - t0;
    return 0;
}

static int check_opts(const bench_judge_opts *o, char *err, size_t errlen) {
    if (o->n < 1 || o->batch < 1 || o->batch > 64 || o->reps < 1 || o->reps > BENCH_MAX_REPS) {
        snprintf(err, errlen, "bench --judge: expected >= 1 item, a batch of 1 .. 64 and 1 .. %d repetitions, found "
                 "%d items, batch %d, %d repetitions", BENCH_MAX_REPS, o->n, o->batch, o->reps);
        return -1;
    }
    return 0;
}

/* The row's judge fields and statistics from the repetitions. */
static void fill_row(const bench_judge_opts *o, bench_row *row, const double *wall, const item_times *tm,
                     judge_classifier_stats st0, judge_classifier_stats st1) {
    bench_judge_info *j = &row->judge;
    j->items = o->n, j->batch = o->batch, j->reason = o->reason;
    snprintf(j->prompt, sizeof j->prompt, "%s", o->prompt_name ? o->prompt_name : "");
    snprintf(j->dataset, sizeof j->dataset, "%s", o->ds->source);
    dataset_hash(o, j->dataset_sha256);
    j->prompt_tokens = (double)(st1.prompt_tokens - st0.prompt_tokens) / o->reps;
    j->generated_tokens = (double)(st1.decode_steps - st0.decode_steps + (o->reason ? st1.items - st0.items : 0)) /
                          o->reps;
    bench_row_samples(row, wall, o->reps, j->prompt_tokens);
    double items_s = 0;
    for (int r = 0; r < o->reps; r++) items_s += o->n / wall[r];
    j->items_per_s = items_s / o->reps;
    bench_latency_of(tm->latency, tm->n, &row->latency);
    bench_latency_of(tm->ttft, tm->n, &row->ttft);
    bench_latency_of(tm->tpot, tm->n_tpot, &row->tpot);
}

int bench_judge_run(const bench_judge_opts *o, bench_report *out, char *err, size_t errlen) {
    bench_report_init(out);
    if (check_opts(o, err, errlen)) return -1;
    vkr_ctx *vk = eng_model_vk(o->m);
    bench_row proto = {0};
    snprintf(proto.kind, sizeof proto.kind, "judge");
    bench_proto_device(&proto, vk);
    bench_proto_model(&proto, o->m, o->model_name);
    bench_proto_checks(&proto, vk, o->m, &o->src, o->no_model_check, o->ref_threads, o->progress, o->progress_user);
    snprintf(proto.test, sizeof proto.test, "judge%s@b%d", o->reason ? "+reason" : "", o->batch);
    proto.parallel = o->batch;
    const char *dev = proto.dev.name;
    size_t n_all = (size_t)o->n * (size_t)o->reps;
    item_times tm = {.latency = malloc(n_all * sizeof(double)), .ttft = malloc(n_all * sizeof(double)),
                     .tpot = malloc(n_all * sizeof(double))};
    char *labels = calloc((size_t)o->n + 1, 1);
    double wall[BENCH_MAX_REPS];
    int rc = -1;
    if (!tm.latency || !tm.ttft || !tm.tpot || !labels) {
        snprintf(err, errlen, "out of host memory");
        goto done;
    }
    bench_say(o->progress, o->progress_user, "%s: %s warm-up (%d items)", dev, proto.test,
              o->n < o->batch ? o->n : o->batch);
    if (run_batch(o, 0, o->n < o->batch ? o->n : o->batch, NULL, NULL, err, errlen)) goto done;
    judge_classifier_stats st0 = judge_classifier_get_stats(o->cl);
    for (int r = 0; r < o->reps; r++) {
        bench_say(o->progress, o->progress_user, "%s: %s rep %d/%d (%d items)", dev, proto.test, r + 1, o->reps, o->n);
        if (run_items(o, r == 0 ? labels : NULL, &tm, &wall[r], err, errlen)) goto done;
    }
    judge_classifier_stats st1 = judge_classifier_get_stats(o->cl);
    bench_row *row = bench_new_row(out, &proto, err, errlen);
    if (!row) goto done;
    fill_row(o, row, wall, &tm, st0, st1);
    row->judge.labels = labels, labels = NULL;
    row->device_bytes = eng_model_weight_bytes(o->m) + eng_ctx_device_bytes(o->c);
    bench_row_finish(row, vk);
    bench_say(o->progress, o->progress_user, "%s: %s %.3g items/s, %.1f prompt tokens/s", dev, row->test,
              row->judge.items_per_s, row->mean);
    rc = 0;
done:
    free(tm.latency), free(tm.ttft), free(tm.tpot), free(labels);
    if (rc) bench_report_free(out);
    return rc;
}
