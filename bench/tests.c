/* The timing of bench's model tests: pp, tg and pg at a depth, for one or
 * more sequences in lockstep (see bench.h), and the statistics of a row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "bench/stats.h"
#include "util/time.h"

/* ---- statistics ---- */

void bench_latency_of(const double *x, int n, bench_latency *out) {
    if (n < 1) {
        out->avg = out->p50 = out->p90 = out->p99 = NAN;
        return;
    }
    double sd;
    bench_mean_sd(x, n, &out->avg, &sd);
    out->avg *= 1e9;
    out->p50 = bench_percentile(x, n, 50) * 1e9;
    out->p90 = bench_percentile(x, n, 90) * 1e9;
    out->p99 = bench_percentile(x, n, 99) * 1e9;
}

void bench_row_samples(bench_row *row, const double *total_s, int reps, double units) {
    row->reps = reps;
    for (int r = 0; r < reps; r++) {
        row->samples[r] = units / total_s[r];
        row->samples_ns[r] = total_s[r] * 1e9;
    }
    bench_mean_sd(row->samples, reps, &row->mean, &row->sd);
    bench_mean_sd(row->samples_ns, reps, &row->mean_ns, &row->sd_ns);
    bench_latency_of(total_s, reps, &row->latency);
}

/* ---- profiles ---- */

static int op_cmp(const void *a, const void *b) {
    double x = ((const bench_op *)a)->ms, y = ((const bench_op *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int take_profile(bench_state *s, bench_profile *p, int tokens, double wall_s, char *err, size_t errlen) {
    eng_op_profile ops[BENCH_MAX_OPS];
    int n = eng_ctx_profile(s->c, ops, BENCH_MAX_OPS);
    if (n < 0) {
        snprintf(err, errlen, "--profile: %s", vkr_ctx_error(s->vk));
        return -1;
    }
    memset(p, 0, sizeof *p);
    p->n_ops = n, p->tokens = tokens, p->wall_ms = wall_s * 1e3;
    for (int i = 0; i < n; i++) {
        bench_op *op = &p->ops[i];
        snprintf(op->op, sizeof op->op, "%s", ops[i].op);
        op->calls = ops[i].calls, op->ms = ops[i].ms;
        p->op_ms += op->ms;
        /* the matrix ops count their weight bytes and FLOPs per dispatch */
        if (op->ms > 0 && ops[i].bytes > 0)
            op->gbps = ops[i].bytes / (op->ms * 1e-3) / 1e9, op->gflops = ops[i].flops / (op->ms * 1e-3) / 1e9;
    }
    for (int i = 0; i < n; i++) p->ops[i].share = p->op_ms > 0 ? 100 * p->ops[i].ms / p->op_ms : 0;
    qsort(p->ops, (size_t)n, sizeof *p->ops, op_cmp);
    return 0;
}

/* ---- one repetition ---- */

/* Times of one repetition, in seconds. */
typedef struct rep_times {
    double total;     /* the whole test */
    double ttft;      /* until the first output token: the prompt pass, or a tg's first step */
    double tpot;      /* per output token after the first (NaN for pp) */
    double last;      /* the last step (the profile's wall time) */
} rep_times;

/* Every sequence holds exactly tokens[0, depth): filled once per depth
 * (sequence 0 computes them, the others copy its cache), then each
 * repetition cuts the caches back. */
static int to_depth(bench_state *s, int depth, int parallel, char *err, size_t errlen) {
    if (s->filled_depth != depth) {
        eng_output out;
        for (int j = 0; j < parallel; j++)
            if (eng_seq_truncate(s->c, j, 0)) goto cut;
        if (depth > 0) {
            bench_say(s->o->progress, s->o->progress_user, "%s: filling the cache to depth %d", s->proto.dev.name,
                      depth);
            if (eng_step(s->c, &(eng_input){.seq = 0, .tokens = s->tokens, .n = depth}, 1, &out, err, errlen))
                return -1;
            for (int j = 1; j < parallel; j++)
                if (eng_seq_copy(s->c, 0, j, depth, err, errlen)) return -1;
        }
        s->filled_depth = depth;
    }
    for (int j = 0; j < parallel; j++)
        if (eng_seq_truncate(s->c, j, depth)) goto cut;
    return 0;
cut:
    snprintf(err, errlen, "cannot cut the cache back to depth %d", depth);
    return -1;
}

static int run_once(bench_state *s, const bench_test *t, rep_times *rt, char *err, size_t errlen) {
    int p = t->parallel, vocab = eng_model_config(s->m)->vocab;
    eng_input in[BENCH_MAX_PARALLEL];
    eng_output out[BENCH_MAX_PARALLEL];
    int32_t tok[BENCH_MAX_PARALLEL];
    if (to_depth(s, t->depth, p, err, errlen)) return -1;
    double t0 = util_now_s(), ts = t0;
    for (int j = 0; j < p; j++) tok[j] = s->tokens[t->depth];
    if (t->n_prompt) {
        for (int j = 0; j < p; j++) in[j] = (eng_input){.seq = j, .tokens = s->tokens + t->depth, .n = t->n_prompt};
        if (eng_step(s->c, in, p, out, err, errlen)) return -1;
        /* a broken device may return no id (NaN logits): keep measuring, the checks report it */
        for (int j = 0; j < p; j++) tok[j] = out[j].argmax >= 0 && out[j].argmax < vocab ? out[j].argmax : tok[j];
        ts = util_now_s();
        rt->ttft = rt->last = ts - t0;
    }
    double first = 0;
    for (int i = 0; i < t->n_gen; i++) {
        double t1 = util_now_s();
        for (int j = 0; j < p; j++) in[j] = (eng_input){.seq = j, .tokens = &tok[j], .n = 1};
        if (eng_step(s->c, in, p, out, err, errlen)) return -1;
        for (int j = 0; j < p; j++) tok[j] = out[j].argmax >= 0 && out[j].argmax < vocab ? out[j].argmax : tok[j];
        rt->last = util_now_s() - t1;
        if (i == 0) first = rt->last;
    }
    rt->total = util_now_s() - t0;
    double gen = rt->total - (ts - t0); /* the decode steps */
    if (!t->n_gen) rt->tpot = NAN;
    else if (t->n_prompt) rt->tpot = gen / t->n_gen; /* pg: every step makes one more token */
    else {
        rt->ttft = first;                              /* tg: the first step makes the first token */
        rt->tpot = t->n_gen > 1 ? (gen - first) / (t->n_gen - 1) : first;
    }
    return 0;
}

/* ---- one test ---- */

static void test_name(const bench_test *t, char *name, size_t len) {
    int k = 0;
    if (t->n_prompt && t->n_gen) k = snprintf(name, len, "pp%d+tg%d", t->n_prompt, t->n_gen);
    else k = snprintf(name, len, "%s%d", t->n_prompt ? "pp" : "tg", t->n_prompt ? t->n_prompt : t->n_gen);
    if (t->depth) k += snprintf(name + k, len - (size_t)k, "@d%d", t->depth);
    if (t->parallel > 1) snprintf(name + k, len - (size_t)k, "@p%d", t->parallel);
}

int bench_run_test(bench_state *s, const bench_test *t, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    const char *dev = s->proto.dev.name;
    char name[64];
    test_name(t, name, sizeof name);
    double total[BENCH_MAX_REPS], ttft[BENCH_MAX_REPS], tpot[BENCH_MAX_REPS];
    rep_times rt = {0};
    for (int r = 0; r <= o->reps; r++) {
        if (r == 0) bench_say(o->progress, o->progress_user, "%s: %s warm-up", dev, name);
        else bench_say(o->progress, o->progress_user, "%s: %s rep %d/%d", dev, name, r, o->reps);
        if (run_once(s, t, &rt, err, errlen)) return -1;
        if (r > 0) total[r - 1] = rt.total, ttft[r - 1] = rt.ttft, tpot[r - 1] = rt.tpot;
    }
    bench_row *row = bench_new_row(s->out, &s->proto, err, errlen);
    if (!row) return -1;
    snprintf(row->test, sizeof row->test, "%s", name);
    row->n_prompt = t->n_prompt, row->n_gen = t->n_gen, row->depth = t->depth, row->parallel = t->parallel;
    bench_row_samples(row, total, o->reps, (double)t->parallel * (t->n_prompt + t->n_gen));
    bench_latency_of(ttft, o->reps, &row->ttft);
    bench_latency_of(tpot, t->n_gen ? o->reps : 0, &row->tpot);
    if (o->profile) {
        row->has_profile = 1;
        int tokens = t->parallel * (t->n_gen ? 1 : t->n_prompt);
        if (take_profile(s, &row->profile, tokens, rt.last, err, errlen)) return -1;
    }
    bench_row_finish(row, s->vk);
    bench_say(o->progress, o->progress_user, "%s: %s %.2f +- %.2f tokens/s", dev, name, row->mean, row->sd);
    return 0;
}
