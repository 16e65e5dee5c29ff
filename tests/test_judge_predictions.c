/* eval --predictions without a model: results files (one per shard) made
 * with the writer's own line functions, read back by judge/predictions.c:
 *   - three shards of a dataset cover it: every item's result comes back,
 *     the devices of the shards are listed, a later line of an id in one
 *     file replaces an earlier one (a resumed run);
 *   - refused, each with a message naming the file, line or ids: a missing
 *     shard (the ids listed), two files holding one id, a result in the
 *     wrong shard's file, shards of different N, a different prompt in one
 *     shard (the field named), a result for another text, ids the labelled
 *     file lacks, a result before any provenance line, a torn last line;
 *   - a different device in one shard is allowed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/predictions.h"
#include "judge/provenance.h"
#include "judge/shard.h"
#include "lib/check.h"

#define N_ITEMS 30
#define N_SHARDS 3

static judge_dataset ds;
static char ids[N_ITEMS][8], texts[N_ITEMS][32];
static char *files[N_SHARDS + 2];
static size_t lens[N_SHARDS + 2];
static const char *names[N_SHARDS + 2] = {"out-1.jsonl", "out-2.jsonl", "out-3.jsonl", "extra-a.jsonl", "extra-b.jsonl"};

static void add(int f, const char *line, size_t n) {
    files[f] = realloc(files[f], lens[f] + n + 1);
    memcpy(files[f] + lens[f], line, n);
    lens[f] += n;
    files[f][lens[f]] = 0;
}

static judge_provenance prov(int k, int n, const char *prompt, const char *device) {
    judge_provenance p = {0};
    snprintf(p.phi3vk_version, sizeof p.phi3vk_version, "0.1.0");
    snprintf(p.model, sizeof p.model, "/models/tiny");
    snprintf(p.prompt, sizeof p.prompt, "%s", prompt);
    snprintf(p.mode, sizeof p.mode, "labels");
    p.threshold = 0.5;
    snprintf(p.shard, sizeof p.shard, "%d/%d", k, n);
    snprintf(p.device, sizeof p.device, "%s", device);
    snprintf(p.driver, sizeof p.driver, "driver of %s", device);
    return p;
}

static void add_prov(int f, const judge_provenance *p) {
    size_t n;
    char *line = judge_provenance_line(p, &n);
    add(f, line, n);
    free(line);
}

/* The result of item i (p_toxic = i / 100); text: the item's text, or another. */
static void add_result(int f, int i, int same_text) {
    judge_result r = {.id = ids[i], .label = i % 2 ? JUDGE_TOXIC : JUDGE_NON_TOXIC, .p_toxic = i / 100.0,
                      .prompt_tokens = 100 + i, .ms = 1};
    judge_sha256_hex(same_text ? texts[i] : "another text", strlen(same_text ? texts[i] : "another text"),
                     r.text_sha256);
    size_t n;
    char *line = judge_result_line(&r, &n);
    add(f, line, n);
    free(line);
}

static void reset(void) {
    for (int f = 0; f < N_SHARDS + 2; f++) {
        free(files[f]);
        files[f] = NULL;
        lens[f] = 0;
        add(f, "", 0);
    }
}

/* Three well-formed shard files; device of shard 3 given. */
static void shards(const char *device3) {
    reset();
    for (int k = 1; k <= N_SHARDS; k++) {
        judge_provenance p = prov(k, N_SHARDS, "judge-card", k == 3 ? device3 : "gpu A");
        add_prov(k - 1, &p);
    }
    for (int i = 0; i < N_ITEMS; i++) add_result(judge_shard_of(ids[i], N_SHARDS) - 1, i, 1);
}

static judge_predictions *load(int n_files, char *err, size_t errlen) {
    return judge_predictions_parse((const char *const *)files, lens, names, n_files, err, errlen);
}

/* Loads n_files and covers the dataset: 0, or -1 with err. */
static int cover(int n_files, char *err, size_t errlen) {
    judge_predictions *p = load(n_files, err, errlen);
    if (!p) return -1;
    int idx[N_ITEMS];
    judge_run_result res[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) idx[i] = i;
    int rc = judge_predictions_cover(p, &ds, idx, N_ITEMS, res, err, errlen);
    if (!rc) judge_run_results_free(res, N_ITEMS);
    judge_predictions_destroy(p);
    return rc;
}

static void expect_refused(const char *what, int n_files, const char *needle) {
    char err[4096] = "";
    int rc = cover(n_files, err, sizeof err);
    CHECK(rc == -1 && strstr(err, needle), "%s: refused naming '%s': %s", what, needle, err);
}

static void good(void) {
    shards("gpu B");
    char err[4096];
    judge_predictions *p = load(N_SHARDS, err, sizeof err);
    CHECK(p != NULL, "three shards load: %s", err);
    if (!p) return;
    CHECK(judge_predictions_count(p) == N_ITEMS, "%d results", judge_predictions_count(p));
    char dev[2048];
    judge_predictions_devices(p, dev, sizeof dev);
    CHECK(strstr(dev, "gpu A") && strstr(dev, "gpu B"), "devices listed: %s", dev);
    int idx[N_ITEMS];
    judge_run_result res[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) idx[i] = i;
    CHECK(judge_predictions_cover(p, &ds, idx, N_ITEMS, res, err, sizeof err) == 0, "cover: %s", err);
    int ok = 0;
    for (int i = 0; i < N_ITEMS; i++)
        ok += res[i].done && !strcmp(res[i].r.id, ids[i]) && fabs(res[i].r.p_toxic - i / 100.0) < 1e-12 &&
              res[i].r.prompt_tokens == 100 + i;
    CHECK(ok == N_ITEMS, "every item's own result: %d of %d", ok, N_ITEMS);
    judge_run_results_free(res, N_ITEMS);
    /* a subset of the labelled file (--limit): fine */
    CHECK(judge_predictions_cover(p, &ds, idx, 10, res, err, sizeof err) == 0, "a subset: %s", err);
    judge_run_results_free(res, 10);
    judge_predictions_destroy(p);

    shards("gpu A");
    add_result(judge_shard_of(ids[4], N_SHARDS) - 1, 4, 0); /* a rerun for a changed text: the later line wins */
    add_result(judge_shard_of(ids[4], N_SHARDS) - 1, 4, 1);
    CHECK(cover(N_SHARDS, err, sizeof err) == 0, "a later line of an id replaces the earlier: %s", err);
}

static void bad(void) {
    shards("gpu A");
    expect_refused("a missing shard", N_SHARDS - 1, "have no result");
    shards("gpu A");
    add(3, files[0], lens[0]);
    expect_refused("a shard twice", N_SHARDS + 1, "also in out-1.jsonl");
    shards("gpu A");
    int i = 0;
    while (judge_shard_of(ids[i], N_SHARDS) == 1) i++;
    add_result(0, i, 1);
    expect_refused("a result in the wrong shard's file", N_SHARDS, "belongs to shard");
    shards("gpu A");
    judge_provenance p4 = prov(1, 4, "judge-card", "gpu A");
    add_prov(3, &p4);
    expect_refused("shards of another N", N_SHARDS + 1, "split in different ways");
    shards("gpu A");
    judge_provenance other = prov(2, N_SHARDS, "phoenix", "gpu A");
    add_prov(1, &other);
    expect_refused("another prompt", N_SHARDS, "prompt: the file has 'judge-card', this run 'phoenix'");
    shards("gpu A");
    add_result(judge_shard_of(ids[7], N_SHARDS) - 1, 7, 0);
    expect_refused("a result for another text", N_SHARDS, "made for another text");
    shards("gpu A");
    strcpy(ids[N_ITEMS - 1], "zz"); /* the labelled file no longer has the id the results hold */
    expect_refused("ids the labelled file lacks", N_SHARDS, "the labelled file does not have");
    snprintf(ids[N_ITEMS - 1], sizeof ids[0], "%d", N_ITEMS);
    reset();
    add_result(3, 0, 1);
    expect_refused("a result before any provenance", 4, "before any provenance line");
    shards("gpu A");
    lens[2]--; /* the last newline */
    expect_refused("a torn last line", N_SHARDS, "the last line has no newline");
    shards("gpu A");
    add(1, "{\"id\": 3}\n", 10);
    expect_refused("not a result line", N_SHARDS, "out-2.jsonl:");
}

int main(void) {
    ds.n = N_ITEMS;
    ds.items = calloc(N_ITEMS, sizeof *ds.items);
    snprintf(ds.source, sizeof ds.source, "labelled.tsv");
    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i + 1);
        snprintf(texts[i], sizeof texts[i], "text number %d", i + 1);
        ds.items[i].id = ids[i];
        ds.items[i].text = texts[i];
        ds.items[i].text_len = strlen(texts[i]);
    }
    good();
    bad();
    for (int f = 0; f < N_SHARDS + 2; f++) free(files[f]);
    free(ds.items);
    return test_finish();
}
