/* bench_run: the measuring loop of phi3vk bench (see bench.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench.h"
#include "engine/selftest.h"
#include "engine/engine.h"
#include "model/synth.h"
#include "kernels/kernels.h"
#include "util/time.h"

/* What one device's tests share. */
typedef struct bench_state {
    const bench_opts *o;
    vkr_ctx *vk;
    eng_model *m;
    eng_ctx *c;
    bench_row proto;     /* device, model, check and memory fields copied into each row */
    int32_t *tokens;     /* [n_ctx] prompt ids */
    bench_report *out;
} bench_state;


static void progress(const bench_opts *o, const char *fmt, ...) {
    if (!o->progress) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->progress(o->progress_user, msg);
}

void bench_opts_defaults(bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->pp[0] = 512, o->n_pp = 1;
    o->tg[0] = 128, o->n_tg = 1;
    o->n_depth = 1;
    o->reps = 5;
    o->seed = 1;
}

static int max_of(const int *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static int check_opts(const bench_opts *o, char *err, size_t errlen) {
    if (!o->model == !o->synthetic) {
        snprintf(err, errlen, "expected exactly one of -m MODEL or --synthetic NAME");
        return -1;
    }
    if (o->reps < 1 || o->reps > BENCH_MAX_REPS) {
        snprintf(err, errlen, "-r: expected 1 .. %d repetitions, found %d", BENCH_MAX_REPS, o->reps);
        return -1;
    }
    struct { const char *flag; const int *v; int n; } lists[] = {
        {"-p", o->pp, o->n_pp}, {"-n", o->tg, o->n_tg}, {"-d", o->depth, o->n_depth}};
    for (int k = 0; k < 3; k++) {
        if (lists[k].n < 0 || lists[k].n > BENCH_MAX_LIST) {
            snprintf(err, errlen, "%s: expected at most %d values, found %d", lists[k].flag, BENCH_MAX_LIST, lists[k].n);
            return -1;
        }
        for (int i = 0; i < lists[k].n; i++)
            if (lists[k].v[i] < 0) {
                snprintf(err, errlen, "%s: expected token counts >= 0, found %d", lists[k].flag, lists[k].v[i]);
                return -1;
            }
    }
    if (max_of(o->pp, o->n_pp) == 0 && max_of(o->tg, o->n_tg) == 0) {
        snprintf(err, errlen, "no test to run: -p and -n are all 0");
        return -1;
    }
    return 0;
}

/* ---- statistics and row fields ---- */

static void mean_sd(const double *x, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

void bench_utc_now(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t peak_rss_bytes(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0; /* Linux: KiB */
}

static bench_row *new_row(bench_state *s, char *err, size_t errlen) {
    bench_report *r = s->out;
    bench_row *rows = realloc(r->rows, (size_t)(r->n_rows + 1) * sizeof *rows);
    if (!rows) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    r->rows = rows;
    bench_row *row = &rows[r->n_rows++];
    *row = s->proto;
    return row;
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

/* ---- the tests ---- */

/* Cuts the cache back to depth and runs one repetition; returns its wall
 * time in seconds and, for tg, the last step's in *last_s (-1 on error). */
static double run_once(bench_state *s, int depth, int n_prompt, int n_gen, double *last_s, char *err, size_t errlen) {
    if (eng_seq_truncate(s->c, 0, depth)) {
        snprintf(err, errlen, "cannot cut the cache back to depth %d", depth);
        return -1;
    }
    double t0 = util_now_s();
    eng_output out;
    if (n_prompt) {
        if (eng_step(s->c, &(eng_input){.seq = 0, .tokens = s->tokens + depth, .n = n_prompt}, 1, &out, err, errlen))
            return -1;
        *last_s = util_now_s() - t0;
        return *last_s;
    }
    int vocab = eng_model_config(s->m)->vocab;
    int32_t tok = s->tokens[depth];
    for (int i = 0; i < n_gen; i++) {
        double ts = util_now_s();
        if (eng_step(s->c, &(eng_input){.seq = 0, .tokens = &tok, .n = 1}, 1, &out, err, errlen)) return -1;
        *last_s = util_now_s() - ts;
        /* a broken device may return no id (NaN logits): keep measuring, the check reports it */
        tok = out.argmax >= 0 && out.argmax < vocab ? out.argmax : s->tokens[depth];
    }
    return util_now_s() - t0;
}

static int run_test(bench_state *s, int depth, int n_prompt, int n_gen, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    char name[48];
    int n = n_prompt ? n_prompt : n_gen;
    if (depth) snprintf(name, sizeof name, "%s%d@d%d", n_prompt ? "pp" : "tg", n, depth);
    else snprintf(name, sizeof name, "%s%d", n_prompt ? "pp" : "tg", n);
    double samples[BENCH_MAX_REPS], last_s = 0;
    for (int r = 0; r <= o->reps; r++) {
        if (r == 0) progress(o, "%s: %s warm-up", s->proto.dev.name, name);
        else progress(o, "%s: %s rep %d/%d", s->proto.dev.name, name, r, o->reps);
        double dt = run_once(s, depth, n_prompt, n_gen, &last_s, err, errlen);
        if (dt < 0) return -1;
        if (r > 0) samples[r - 1] = n / dt;
    }
    bench_row *row = new_row(s, err, errlen);
    if (!row) return -1;
    snprintf(row->test, sizeof row->test, "%s", name);
    row->n_prompt = n_prompt, row->n_gen = n_gen, row->depth = depth, row->reps = o->reps;
    memcpy(row->samples, samples, (size_t)o->reps * sizeof *samples);
    mean_sd(samples, o->reps, &row->mean, &row->sd);
    row->host_rss_bytes = peak_rss_bytes();
    bench_utc_now(row->date, sizeof row->date);
    progress(o, "%s: %s %.2f +- %.2f tokens/s", s->proto.dev.name, name, row->mean, row->sd);
    if (o->profile) {
        row->has_profile = 1;
        if (take_profile(s, &row->profile, n_prompt ? n_prompt : 1, last_s, err, errlen)) return -1;
    }
    return 0;
}

/* Prompt ids: a fixed pseudo-random sequence inside the vocabulary, away
 * from the low ids that are special tokens in Phi-3's tokenizer. */
static int32_t *make_tokens(int n, int vocab) {
    int32_t *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    if (!t) return NULL;
    int lo = vocab > 1000 ? 100 : 3, span = (vocab < 32000 ? vocab : 32000) - lo;
    uint64_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = lo + (int32_t)((x >> 33) % (uint64_t)span);
    }
    return t;
}

static int load_model(bench_state *s, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    eng_model_opts mo = {.vk = s->vk, .max_layers = o->layers, .weights = o->weights};
    if (o->synthetic) {
        phi3_synth_opts so;
        phi3_synth_defaults(&so);
        so.seed = o->seed;
        if (phi3_synth_preset(&so.cfg, o->synthetic, err, errlen)) return -1;
        progress(o, "%s: generating synthetic %s weights (seed %llu)", s->proto.dev.name, o->synthetic,
                 (unsigned long long)o->seed);
        s->m = eng_model_synthetic(&so, &mo, err, errlen);
        snprintf(s->proto.model, sizeof s->proto.model, "synthetic:%s", o->synthetic);
    } else {
        progress(o, "%s: loading %s", s->proto.dev.name, o->model);
        s->m = eng_model_open(o->model, &mo, err, errlen);
        snprintf(s->proto.model, sizeof s->proto.model, "%s", o->model);
    }
    if (!s->m) return -1;
    const phi3_config *cfg = eng_model_config(s->m);
    int max_depth = max_of(o->depth, o->n_depth), max_pp = max_of(o->pp, o->n_pp);
    int max_tg = max_of(o->tg, o->n_tg);
    int n_ctx = max_depth + (max_pp > max_tg ? max_pp : max_tg);
    if (n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "depth %d + test length %d = %d tokens exceed the model's context of %d", max_depth,
                 n_ctx - max_depth, n_ctx, cfg->max_pos);
        return -1;
    }
    /* One prefill pass per pp test, so its profile covers the whole prompt. */
    eng_plan plan;
    if (eng_plan_make(s->m, &(eng_plan_request){.n_ctx = n_ctx, .n_seq = 1, .n_batch = max_pp > 0 ? max_pp : 512},
                      &plan, err, errlen) ||
        !(s->c = eng_ctx_create(s->m, &plan, err, errlen)))
        return -1;
    if (!(s->tokens = make_tokens(n_ctx, cfg->vocab))) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    s->proto.model_params = eng_model_params(s->m);
    s->proto.model_bytes = eng_model_weight_bytes(s->m);
    snprintf(s->proto.model_type, sizeof s->proto.model_type, "%s", eng_model_weight_types(s->m));
    for (char *c = s->proto.model_type; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    s->proto.model_layers = cfg->n_layers;
    s->proto.device_bytes = eng_model_weight_bytes(s->m) + eng_ctx_device_bytes(s->c);
    return 0;
}

/* Everything for one runtime: model, correctness check, tests. */
static int run_device(bench_state *s, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    const vkr_device_info *d = vkr_ctx_device(s->vk);
    bench_row *p = &s->proto;
    memset(p, 0, sizeof *p);
    p->dev = *d;
    vkr_driver_version_str(d, p->driver_version, sizeof p->driver_version);
    vkr_api_version_str(d, p->vulkan_api, sizeof p->vulkan_api);
    snprintf(p->device_profile, sizeof p->device_profile, "%s", vkr_ctx_profile(s->vk)->name);
    eng_selftest_names(vkr_ctx_profile(s->vk)->fallbacks, p->fallbacks, sizeof p->fallbacks);
    if (load_model(s, err, errlen)) return -1;
    progress(o, "%s: correctness check", d->name);
    eng_check_run(s->vk, &p->check);
    progress(o, "%s: check %s (nmse %.2e, %d/%d ids)%s%s", d->name, p->check.pass ? "pass" : "FAIL", p->check.nmse,
             p->check.ids_match, ENG_CHECK_IDS, p->check.pass ? "" : ": ", p->check.message);
    for (int di = 0; di < (o->n_depth ? o->n_depth : 1); di++) {
        int depth = o->n_depth ? o->depth[di] : 0;
        if (depth > 0) {
            progress(o, "%s: filling the cache to depth %d", d->name, depth);
            eng_output out;
            if (eng_seq_truncate(s->c, 0, 0) ||
                eng_step(s->c, &(eng_input){.seq = 0, .tokens = s->tokens, .n = depth}, 1, &out, err, errlen))
                return -1;
        }
        for (int i = 0; i < o->n_pp; i++)
            if (o->pp[i] > 0 && run_test(s, depth, o->pp[i], 0, err, errlen)) return -1;
        for (int i = 0; i < o->n_tg; i++)
            if (o->tg[i] > 0 && run_test(s, depth, 0, o->tg[i], err, errlen)) return -1;
    }
    return 0;
}

static void state_clear(bench_state *s) {
    eng_ctx_destroy(s->c);
    eng_model_close(s->m);
    free(s->tokens);
    s->c = NULL, s->m = NULL, s->tokens = NULL;
}

int bench_run(const bench_opts *o, bench_report *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->version = PHI3VK_VERSION;
    out->commit = PHI3VK_COMMIT;
    if (check_opts(o, err, errlen)) return -1;
    bench_state s = {.o = o, .out = out};
    int n_runs = o->vk || o->n_devices == 0 ? 1 : o->n_devices;
    for (int i = 0; i < n_runs; i++) {
        const char *sel = o->vk || o->n_devices == 0 ? NULL : o->devices[i];
        char msg[768];
        s.vk = o->vk;
        if (!s.vk) {
            vkr_ctx_opts vo = {.device = sel, .validate = o->validate, .quiet = 1, .cache_dir = o->cache_dir,
                               .profile = o->profile, .device_profile = o->device_profile};
            eng_selftest_result st;
            s.vk = eng_device_open(&vo, o->no_self_test, &st, NULL, NULL, msg, sizeof msg);
        }
        int rc = s.vk ? run_device(&s, msg, sizeof msg) : -1;
        state_clear(&s);
        if (s.vk != o->vk) vkr_ctx_destroy(s.vk);
        if (rc) {
            if (sel) snprintf(err, errlen, "device %s: %s", sel, msg);
            else snprintf(err, errlen, "%s", msg);
            bench_report_free(out);
            return -1;
        }
    }
    return 0;
}

void bench_report_free(bench_report *r) {
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}
