/* judge pools (classify --device 0,1): two engines, each with its own
 * Vulkan context, model and classifier (here both on the first device, as
 * two drivers are not guaranteed in a unit test; tests/cli_judge_scale.sh
 * runs two real drivers), share a run's items through judge_run:
 *   - every item gets the result one classifier alone gives it (label equal,
 *     P(toxic) within 1e-3; with --reason the same reason), in input order;
 *   - both engines take items (a context of 1 sequence and one of 3), and
 *     every result is counted once in the pool's statistics;
 *   - a failing batch fails the run with the classifier's message.
 * Tiny random-weight Phi-3 with the real tokenizer; validation layer on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "judge/classifier.h"
#include "judge/pool.h"
#include "judge/run.h"
#include "lib/check.h"
#include "model/synth.h"

#define N_ITEMS 23

static char err[2048], tok_path[1024];

typedef struct engine {
    eng_model *m;
    eng_ctx *c;
    judge_classifier *cl;
} engine;

static int open_engine(engine *e, int n_seq, const judge_prompt *p, int reason) {
    phi3_synth_opts s;
    phi3_synth_defaults(&s);
    phi3_synth_preset(&s.cfg, "tiny", err, sizeof err);
    s.seed = 11;
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .quiet = 1, .cache_dir = ""}, err, sizeof err);
    if (!vk) return -1;
    e->m = eng_model_synthetic(&s, &(eng_model_opts){.vk = vk, .take_vk = 1, .tokenizer = tok_path}, err, sizeof err);
    eng_plan plan;
    if (!e->m || eng_plan_make(e->m, &(eng_plan_request){.n_ctx = 640, .n_seq = n_seq}, &plan, err, sizeof err) ||
        !(e->c = eng_ctx_create(e->m, &plan, err, sizeof err)))
        return -1;
    judge_classifier_opts o = {.reason = reason, .max_new = 4};
    return (e->cl = judge_classifier_create(e->m, e->c, p, &o, err, sizeof err)) ? 0 : -1;
}

static void close_engine(engine *e) {
    judge_classifier_destroy(e->cl);
    eng_ctx_destroy(e->c);
    if (e->m) CHECK(vkr_ctx_validation_messages(eng_model_vk(e->m)) == 0, "validation messages");
    eng_model_close(e->m);
}

static judge_dataset *dataset(void) {
    judge_dataset *ds = calloc(1, sizeof *ds);
    ds->items = calloc(N_ITEMS, sizeof *ds->items);
    ds->n = N_ITEMS;
    for (int i = 0; i < N_ITEMS; i++) {
        judge_item *it = &ds->items[i];
        it->id = malloc(8);
        it->text = malloc(96);
        snprintf(it->id, 8, "%d", i + 1);
        snprintf(it->text, 96, "item %d:%.*s you are %s", i, i % 7 * 4, "a very long and winding text indeed, ok",
                 i % 3 ? "kind" : "awful");
        it->text_len = strlen(it->text);
        it->line = i + 1;
    }
    return ds;
}

static int run(judge_classify_fn fn, void *user, int batch, const judge_dataset *ds, judge_run_result *res) {
    int idx[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) idx[i] = i;
    judge_progress prog;
    judge_run_opts o = {.batch = batch};
    return judge_run(ds, idx, N_ITEMS, fn, user, &o, res, &prog, err, sizeof err);
}

static void compare(int reason) {
    judge_prompt *p = judge_prompt_builtin(NULL, err, sizeof err);
    engine one = {0}, a = {0}, b = {0};
    judge_dataset *ds = dataset();
    judge_run_result want[N_ITEMS], got[N_ITEMS];
    CHECK(open_engine(&one, 1, p, reason) == 0 && open_engine(&a, 1, p, reason) == 0 && open_engine(&b, 3, p, reason) == 0,
          "engines: %s", err);
    if (!one.cl || !a.cl || !b.cl) return;
    CHECK(run(judge_classify_batch, one.cl, 1, ds, want) == 0, "one engine: %s", err);
    judge_classifier *cls[2] = {a.cl, b.cl};
    judge_pool *pool = judge_pool_create(cls, 2, err, sizeof err);
    CHECK(pool && judge_pool_batch(pool) == 16, "pool: %s", err);
    CHECK(run(judge_pool_classify, pool, judge_pool_batch(pool), ds, got) == 0, "the pool: %s", err);
    int same = 0;
    double worst = 0;
    for (int i = 0; i < N_ITEMS; i++) {
        double d = fabs(want[i].r.p_toxic - got[i].r.p_toxic);
        worst = d > worst ? d : worst;
        same += got[i].done && want[i].r.label == got[i].r.label && d <= 1e-3 && !strcmp(got[i].r.id, ds->items[i].id) &&
                (!reason || (got[i].r.reason && !strcmp(want[i].r.reason, got[i].r.reason)));
    }
    CHECK(same == N_ITEMS, "%s: %d of %d items as one engine gives them (largest P(toxic) difference %.2g)",
          reason ? "reason" : "labels", same, N_ITEMS, worst);
    judge_pool_stats st = judge_pool_get_stats(pool);
    CHECK(st.n == 2 && st.items[0] + st.items[1] == N_ITEMS && st.items[0] > 0 && st.items[1] > 0,
          "both engines took items, each result counted once: %lld + %lld (%lld backups)", st.items[0], st.items[1],
          st.backups);
    printf("%s: engine a %lld items, engine b %lld, %lld run again (%lld first)\n", reason ? "reason" : "labels",
           st.items[0], st.items[1], st.backups, st.backups_won);
    judge_run_results_free(want, N_ITEMS);
    judge_run_results_free(got, N_ITEMS);

    /* a text the classifier refuses (a NUL byte) fails the run with its message */
    ds->items[5].text[3] = 0;
    CHECK(run(judge_pool_classify, pool, 8, ds, got) == -1 && strstr(err, "NUL"), "a failing item: %s", err);
    judge_run_results_free(got, N_ITEMS);
    judge_pool_destroy(pool);
    close_engine(&one);
    close_engine(&a);
    close_engine(&b);
    judge_prompt_destroy(p);
    judge_dataset_destroy(ds);
}

int main(void) {
    const char *data = test_data_dir();
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer/phi3-2024-04/tokenizer.json", data);
    if (access(tok_path, R_OK)) test_skip("the tokenizer in ../shared/data is absent");
    CHECK(judge_pool_create(NULL, 0, err, sizeof err) == NULL, "an empty pool is refused");
    compare(0);
    compare(1);
    return test_finish();
}
