/* bench_run: devices, models and checks of phi3vk bench (see bench.h); the
 * timing of each test is bench/tests.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench_internal.h"
#include "engine/selftest.h"

void bench_say(bench_progress_fn fn, void *user, const char *fmt, ...) {
    if (!fn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(user, msg);
}

void bench_opts_defaults(bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->pp[0] = 512, o->n_pp = 1;
    o->tg[0] = 128, o->n_tg = 1;
    o->n_depth = 1;
    o->parallel = 1;
    o->reps = 5;
    o->seed = 1;
}

static int max_of(const int *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* The longest test: prompt + generation tokens per sequence. */
static int longest_test(const bench_opts *o) {
    int m = max_of(o->pp, o->n_pp), t = max_of(o->tg, o->n_tg);
    if (t > m) m = t;
    for (int i = 0; i < o->n_pg; i++)
        if (o->pg[i][0] + o->pg[i][1] > m) m = o->pg[i][0] + o->pg[i][1];
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
    if (o->parallel < 1 || o->parallel > BENCH_MAX_PARALLEL) {
        snprintf(err, errlen, "--parallel: expected 1 .. %d sequences, found %d", BENCH_MAX_PARALLEL, o->parallel);
        return -1;
    }
    if (o->n_batch < 0) {
        snprintf(err, errlen, "-b: expected a token count >= 1, found %d", o->n_batch);
        return -1;
    }
    struct { const char *flag; const int *v; int n; } lists[] = {
        {"-p", o->pp, o->n_pp}, {"-n", o->tg, o->n_tg}, {"-d", o->depth, o->n_depth}, {"-pg", o->pg[0], 2 * o->n_pg}};
    for (int k = 0; k < 4; k++) {
        if (lists[k].n < 0 || lists[k].n > (k == 3 ? 2 : 1) * BENCH_MAX_LIST) {
            snprintf(err, errlen, "%s: expected at most %d values, found %d", lists[k].flag, BENCH_MAX_LIST, lists[k].n);
            return -1;
        }
        for (int i = 0; i < lists[k].n; i++)
            if (lists[k].v[i] < 0) {
                snprintf(err, errlen, "%s: expected token counts >= 0, found %d", lists[k].flag, lists[k].v[i]);
                return -1;
            }
    }
    for (int i = 0; i < o->n_pg; i++)
        if (!o->pg[i][0] || !o->pg[i][1]) {
            snprintf(err, errlen, "-pg: expected a prompt and a generation length >= 1, found %d,%d", o->pg[i][0],
                     o->pg[i][1]);
            return -1;
        }
    if (max_of(o->pp, o->n_pp) == 0 && max_of(o->tg, o->n_tg) == 0 && o->n_pg == 0) {
        snprintf(err, errlen, "no test to run: -p and -n are all 0 and there is no -pg");
        return -1;
    }
    return 0;
}

/* ---- row fields ---- */

void bench_utc_now(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bench_report_init(bench_report *r) {
    memset(r, 0, sizeof *r);
    r->version = PHI3VK_VERSION;
    r->commit = PHI3VK_COMMIT;
}

bench_row *bench_new_row(bench_report *r, const bench_row *proto, char *err, size_t errlen) {
    bench_row *rows = realloc(r->rows, (size_t)(r->n_rows + 1) * sizeof *rows);
    if (!rows) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    r->rows = rows;
    bench_row *row = &rows[r->n_rows++];
    *row = *proto;
    return row;
}

void bench_proto_device(bench_row *p, vkr_ctx *vk) {
    const vkr_device_info *d = vkr_ctx_device(vk);
    p->dev = *d;
    vkr_driver_version_str(d, p->driver_version, sizeof p->driver_version);
    vkr_api_version_str(d, p->vulkan_api, sizeof p->vulkan_api);
    snprintf(p->device_profile, sizeof p->device_profile, "%s", vkr_ctx_profile(vk)->name);
    eng_selftest_names(vkr_ctx_profile(vk)->fallbacks, p->fallbacks, sizeof p->fallbacks);
    bench_host_query(&p->host);
}

void bench_proto_model(bench_row *p, eng_model *m, const char *name) {
    snprintf(p->model, sizeof p->model, "%s", name);
    p->model_params = eng_model_params(m);
    p->model_bytes = eng_model_weight_bytes(m);
    snprintf(p->model_type, sizeof p->model_type, "%s", eng_model_weight_types(m));
    for (char *c = p->model_type; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    p->model_layers = eng_model_config(m)->n_layers;
}

void bench_proto_checks(bench_row *p, vkr_ctx *vk, eng_model *m, const bench_model_source *src, int skip,
                        int threads, bench_progress_fn fn, void *user) {
    const char *dev = vkr_ctx_device(vk)->name;
    bench_say(fn, user, "%s: correctness check", dev);
    eng_check_run(vk, &p->check);
    bench_say(fn, user, "%s: check %s (nmse %.2e, %d/%d ids)%s%s", dev, p->check.pass ? "pass" : "FAIL",
              p->check.nmse, p->check.ids_match, ENG_CHECK_IDS, p->check.pass ? "" : ": ", p->check.message);
    if (skip) {
        bench_model_check_skip(&p->model_check);
        bench_say(fn, user, "%s: model check skipped (--no-model-check)", dev);
        return;
    }
    bench_say(fn, user, "%s: model check: %d positions against the C reference", dev, BENCH_MODEL_CHECK_TOKENS);
    bench_model_check *mc = &p->model_check;
    bench_model_check_run(m, src, threads, mc);
    bench_say(fn, user, "%s: model check %s (nmse %.2e, %d/%d positions agree%s; device %.2f s, reference %.1f s)%s%s",
              dev, mc->pass ? "pass" : "FAIL", mc->nmse, mc->agree, mc->positions, mc->excused ? ", near-ties" : "",
              mc->dev_s, mc->ref_s, mc->pass ? "" : ": ", mc->message);
}

void bench_row_finish(bench_row *row, vkr_ctx *vk) {
    struct rusage ru;
    row->host_rss_bytes = getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0; /* Linux: KiB */
    bench_clocks_query(vkr_ctx_device(vk), &row->clocks);
    bench_utc_now(row->date, sizeof row->date);
}

/* ---- one device ---- */

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
    const char *dev = s->proto.dev.name;
    eng_model_opts mo = {.vk = s->vk, .max_layers = o->layers, .weights = o->weights, .load_threads = o->load_threads};
    char name[256];
    if (o->synthetic) {
        phi3_synth_defaults(&s->synth);
        s->synth.seed = o->seed;
        if (phi3_synth_preset(&s->synth.cfg, o->synthetic, err, errlen)) return -1;
        bench_say(o->progress, o->progress_user, "%s: generating synthetic %s weights (seed %llu)", dev, o->synthetic,
                  (unsigned long long)o->seed);
        s->m = eng_model_synthetic(&s->synth, &mo, err, errlen);
        snprintf(name, sizeof name, "synthetic:%s", o->synthetic);
    } else {
        bench_say(o->progress, o->progress_user, "%s: loading %s", dev, o->model);
        s->m = eng_model_open(o->model, &mo, err, errlen);
        snprintf(name, sizeof name, "%s", o->model);
    }
    if (!s->m) return -1;
    bench_proto_model(&s->proto, s->m, name);
    return 0;
}

/* The context every test of this device shares: parallel sequences, each
 * holding the deepest depth plus the longest test. */
static int make_context(bench_state *s, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    const phi3_config *cfg = eng_model_config(s->m);
    int max_depth = max_of(o->depth, o->n_depth), longest = longest_test(o);
    int n_ctx = max_depth + longest;
    if (n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "depth %d + test length %d = %d tokens exceed the model's context of %d", max_depth,
                 longest, n_ctx, cfg->max_pos);
        return -1;
    }
    /* By default one prefill pass per sequence of a pp test, so its profile covers the whole prompt. */
    int max_prompt = max_of(o->pp, o->n_pp);
    for (int i = 0; i < o->n_pg; i++) max_prompt = o->pg[i][0] > max_prompt ? o->pg[i][0] : max_prompt;
    int n_batch = o->n_batch > 0 ? o->n_batch : max_prompt > 0 ? max_prompt : 512;
    eng_plan plan;
    if (eng_plan_make(s->m, &(eng_plan_request){.n_ctx = n_ctx, .n_seq = o->parallel, .n_batch = n_batch}, &plan,
                      err, errlen) ||
        !(s->c = eng_ctx_create(s->m, &plan, err, errlen)))
        return -1;
    if (!(s->tokens = make_tokens(n_ctx, cfg->vocab))) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    s->filled_depth = -1;
    s->proto.parallel = o->parallel;
    s->proto.n_batch = plan.n_batch;
    s->proto.device_bytes = eng_model_weight_bytes(s->m) + eng_ctx_device_bytes(s->c);
    return 0;
}

/* Everything for one runtime: model, checks, tests. */
static int run_device(bench_state *s, char *err, size_t errlen) {
    const bench_opts *o = s->o;
    bench_row *p = &s->proto;
    memset(p, 0, sizeof *p);
    snprintf(p->kind, sizeof p->kind, "model");
    bench_proto_device(p, s->vk);
    if (load_model(s, err, errlen)) return -1;
    bench_model_source src = {.path = o->model, .synth = o->synthetic ? &s->synth : NULL, .weights = o->weights};
    bench_proto_checks(p, s->vk, s->m, &src, o->no_model_check, o->ref_threads, o->progress, o->progress_user);
    if (make_context(s, err, errlen)) return -1;
    for (int di = 0; di < (o->n_depth ? o->n_depth : 1); di++) {
        bench_test t = {.depth = o->n_depth ? o->depth[di] : 0, .parallel = o->parallel};
        for (int i = 0; i < o->n_pp; i++) {
            t.n_prompt = o->pp[i], t.n_gen = 0;
            if (t.n_prompt > 0 && bench_run_test(s, &t, err, errlen)) return -1;
        }
        for (int i = 0; i < o->n_tg; i++) {
            t.n_prompt = 0, t.n_gen = o->tg[i];
            if (t.n_gen > 0 && bench_run_test(s, &t, err, errlen)) return -1;
        }
        for (int i = 0; i < o->n_pg; i++) {
            t.n_prompt = o->pg[i][0], t.n_gen = o->pg[i][1];
            if (bench_run_test(s, &t, err, errlen)) return -1;
        }
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
    bench_report_init(out);
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
    for (int i = 0; i < r->n_rows; i++) free(r->rows[i].judge.labels);
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

int bench_report_valid(const bench_report *r) {
    for (int i = 0; i < r->n_rows; i++)
        if (!r->rows[i].check.pass || (r->rows[i].model_check.ran && !r->rows[i].model_check.pass)) return 0;
    return 1;
}
