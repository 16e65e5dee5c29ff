/* judge runs without a model: a deterministic rule stands in for the engine
 * (a text containing "bad" is toxic) so the loop's own behaviour is checked:
 * batching, resume from the output file, stopping early (as Ctrl-C does),
 * a failing classifier, the JSONL and table outputs, and an eval report
 * built from the run's results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "judge/report.h"
#include "judge/run.h"
#include "lib/check.h"
#include "util/utf8.h"

static char err[1024];
static char dir[] = "/tmp/phi3vk_run_XXXXXX";

typedef struct rule {
    int calls;                   /* callbacks so far */
    int sizes[16];               /* batch size of each call */
    int fail_on_call;            /* 1-based call that fails; 0 = never */
    int stop_after;              /* set *stop after this many calls; 0 = never */
    volatile sig_atomic_t *stop;
    int reasons;                 /* give a reason */
} rule;

static int classify_rule(void *user, const judge_item *const *items, int n, judge_result *out, char *e, size_t el) {
    rule *r = user;
    if (r->calls < 16) r->sizes[r->calls] = n;
    r->calls++;
    if (r->fail_on_call == r->calls) {
        snprintf(e, el, "device lost (test)");
        return -1;
    }
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    for (int i = 0; i < n; i++) {
        int bad = strstr(items[i]->text, "bad") != NULL;
        out[i].label = bad ? JUDGE_TOXIC : JUDGE_NON_TOXIC;
        out[i].p_toxic = bad ? 0.9 : 0.1;
        out[i].prompt_tokens = 100 + (int)items[i]->text_len;
        if (r->reasons) {
            char *s = malloc(32);
            snprintf(s, 32, "rule says %s", bad ? "bad" : "fine");
            out[i].reason = s;
        }
    }
    if (r->stop_after && r->calls >= r->stop_after) *r->stop = 1;
    return 0;
}

static judge_dataset *make_dataset(void) {
    const char *s = "id\ttext\tlabel\n"
                    "a\tgood day\tnon-toxic\n"
                    "b\tbad words\ttoxic\n"
                    "c\tfine\tnon-toxic\n"
                    "d\tbad bad\ttoxic\n"
                    "e\tsubtle insult\ttoxic\n"
                    "f\thello\tnon-toxic\n"
                    "g\tbad\\tand\\nsad\ttoxic\n"
                    "h\tnice\tnon-toxic\n"
                    "i\tbad but fine\tnon-toxic\n"
                    "j\tthe end\tnon-toxic\n";
    judge_dataset_opts o = {JUDGE_FORMAT_TSV, NULL, "id", "label", 0};
    return judge_dataset_parse(s, strlen(s), "run.tsv", &o, err, sizeof err);
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    int n = 0, c;
    while (f && (c = fgetc(f)) != EOF) n += c == '\n';
    if (f) fclose(f);
    return n;
}

static void check_full_and_resume(const judge_dataset *ds, const int *idx) {
    char path[256];
    snprintf(path, sizeof path, "%s/full.jsonl", dir);
    judge_results *out = judge_results_open(path, err, sizeof err);
    rule r = {0};
    r.reasons = 1;
    judge_run_opts o = {3, out, NULL, NULL, NULL, NULL};
    judge_run_result res[10];
    judge_progress prog;
    int rc = judge_run(ds, idx, 10, classify_rule, &r, &o, res, &prog, err, sizeof err);
    CHECK(rc == 0 && r.calls == 4 && r.sizes[0] == 3 && r.sizes[3] == 1, "batches: rc %d calls %d (%s)", rc, r.calls,
          err);
    CHECK(prog.done == 10 && prog.total == 10 && prog.resumed == 0 && prog.unparsable == 0, "progress counts");
    CHECK(res[1].done && res[1].r.label == JUDGE_TOXIC && !strcmp(res[1].r.id, "b") && res[1].r.ms > 0 &&
              !strcmp(res[1].r.reason, "rule says bad"),
          "result b");
    judge_run_results_free(res, 10);
    judge_results_close(out, NULL, 0);
    CHECK(count_lines(path) == 10, "10 lines written");

    /* The same run again: everything comes from the file, nothing is classified. */
    out = judge_results_open(path, err, sizeof err);
    rule r2 = {0};
    o.out = out;
    rc = judge_run(ds, idx, 10, classify_rule, &r2, &o, res, &prog, err, sizeof err);
    CHECK(rc == 0 && r2.calls == 0 && prog.resumed == 10 && prog.total == 0, "full resume: calls %d", r2.calls);
    CHECK(res[6].resumed && res[6].r.label == JUDGE_TOXIC && res[6].r.p_toxic == 0.9 &&
              !strcmp(res[6].r.reason, "rule says bad") && res[6].r.prompt_tokens == 100 + 11,
          "resumed result g");

    /* An eval report from the run's results: "e" (toxic, no "bad") is a
     * false negative, "i" (non-toxic with "bad") a false positive. */
    int cls[10], yt[10];
    judge_label yp[10];
    double score[10];
    CHECK(judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < 10; i++) {
        yt[i] = cls[idx[i]];
        yp[i] = res[i].r.label;
        score[i] = res[i].r.p_toxic;
    }
    judge_report rep;
    CHECK(judge_report_compute(yt, yp, score, 10, &rep, err, sizeof err) == 0 && rep.confusion[1][0] == 1 &&
              rep.confusion[0][1] == 1 && rep.confusion[1][1] == 3 && fabs(rep.accuracy - 0.8) < 1e-12,
          "report from run");
    judge_run_results_free(res, 10);
    judge_results_close(out, NULL, 0);
    remove(path);
}

static void check_stop_and_failure(const judge_dataset *ds, const int *idx) {
    char path[256];
    snprintf(path, sizeof path, "%s/stop.jsonl", dir);
    volatile sig_atomic_t stop = 0;
    judge_results *out = judge_results_open(path, err, sizeof err);
    rule r = {0};
    r.stop_after = 2;
    r.stop = &stop;
    judge_run_opts o = {3, out, NULL, NULL, NULL, &stop};
    judge_run_result res[10];
    judge_progress prog;
    int rc = judge_run(ds, idx, 10, classify_rule, &r, &o, res, &prog, err, sizeof err);
    CHECK(rc == 1 && r.calls == 2 && prog.done == 6 && !res[6].done, "stopped: rc %d calls %d", rc, r.calls);
    judge_run_results_free(res, 10);
    judge_results_close(out, NULL, 0);

    /* Rerun: only the 4 missing items are classified. */
    stop = 0;
    out = judge_results_open(path, err, sizeof err);
    rule r2 = {0};
    o.out = out;
    rc = judge_run(ds, idx, 10, classify_rule, &r2, &o, res, &prog, err, sizeof err);
    CHECK(rc == 0 && r2.calls == 2 && r2.sizes[0] == 3 && r2.sizes[1] == 1 && prog.resumed == 6 && prog.done == 4,
          "resume after stop: calls %d", r2.calls);
    judge_run_results_free(res, 10);
    judge_results_close(out, NULL, 0);
    CHECK(count_lines(path) == 10, "10 lines after resume");
    remove(path);

    /* A failing classifier stops the run; earlier batches stay written. */
    out = judge_results_open(path, err, sizeof err);
    rule r3 = {0};
    r3.fail_on_call = 2;
    r3.reasons = 1;
    o.out = out;
    o.stop = NULL;
    rc = judge_run(ds, idx, 10, classify_rule, &r3, &o, res, &prog, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "device lost") && prog.done == 3, "failure: rc %d (%s)", rc, err);
    judge_run_results_free(res, 10);
    judge_results_close(out, NULL, 0);
    CHECK(count_lines(path) == 3, "3 lines after failure");
    remove(path);
}

static void check_streams(const judge_dataset *ds, const int *idx) {
    FILE *jsonl = tmpfile(), *table = tmpfile();
    rule r = {0};
    judge_run_opts o = {4, NULL, jsonl, table, NULL, NULL};
    judge_run_result res[10];
    judge_progress prog;
    CHECK(judge_run(ds, idx, 5, classify_rule, &r, &o, res, &prog, err, sizeof err) == 0, "streams: %s", err);
    judge_run_results_free(res, 5);
    char line[4096];
    int n = 0, ok = 0;
    rewind(jsonl);
    while (fgets(line, sizeof line, jsonl)) {
        judge_result back;
        n++;
        if (judge_result_parse(line, strlen(line) - 1, &back, err, sizeof err) == 0) {
            ok += !strcmp(back.id, ds->items[n - 1].id);
            free((char *)back.id);
            free((char *)back.reason);
        }
    }
    CHECK(n == 5 && ok == 5, "jsonl lines %d ok %d", n, ok);
    rewind(table);
    CHECK(fgets(line, sizeof line, table) && !strcmp(line, "id  label       p_toxic  text\n"), "header '%s'", line);
    CHECK(fgets(line, sizeof line, table) && !strcmp(line, "a   non-toxic    0.1000  good day\n"), "row '%s'", line);
    fclose(jsonl);
    fclose(table);

    /* Rows: control characters become spaces, long texts are cut on a
     * character boundary, invalid bytes show as U+FFFD, NaN as "-". */
    judge_item item = {"x", "line\none\ttab \xff", 14, NULL, 1};
    judge_result rr = {"x", JUDGE_UNPARSABLE, NAN, "why\nnot", 7, 1};
    char buf[512];
    judge_table_row(&item, &rr, 3, buf, sizeof buf);
    CHECK(!strcmp(buf, "x    unparsable        -  line one tab \xef\xbf\xbd\n    reason: why not\n"), "row: '%s'", buf);
    /* issue 14 row 9: an id with escape sequences (C0 and C1 controls) is shown with spaces */
    judge_item esc = {"\x1b]0;x\x07\xc2\x9b" "2J", "t", 1, NULL, 1};
    judge_result re = {esc.id, JUDGE_TOXIC, 0.5, NULL, 0, 0};
    judge_table_row(&esc, &re, 8, buf, sizeof buf);
    CHECK(!strchr(buf, '\x1b') && !strchr(buf, '\x07') && !strstr(buf, "\xc2\x9b") && !strncmp(buf, " ]0;x  2J", 9),
          "escapes in the id: '%s'", buf);
    judge_result rerr = {"x", JUDGE_ERROR, NAN, NULL, 0, 0, "the prompt has 9 tokens", 0, ""};
    judge_table_row(&item, &rerr, 3, buf, sizeof buf);
    CHECK(strstr(buf, "x    error") && strstr(buf, "\n    error: the prompt has 9 tokens\n"), "error row: '%s'", buf);
    char longtext[200];
    for (int i = 0; i < 100; i++) memcpy(longtext + 2 * i, "\xc3\xa9", 2); /* 100 x e-acute */
    judge_item big = {"y", longtext, 200, NULL, 1};
    judge_result ry = {"y", JUDGE_TOXIC, 0.5, NULL, 0, 0};
    judge_table_row(&big, &ry, 1, buf, sizeof buf);
    const char *text = strstr(buf, "0.5000  ") + 8;
    CHECK(strlen(text) == 60 * 2 + 3 + 1 && !strcmp(text + 120, "...\n"), "cut: '%s'", buf);
    judge_table_row(&big, &ry, 1, buf, 40);
    CHECK(strlen(buf) < 40 && buf[strlen(buf) - 1] == '\n' && util_utf8_valid(buf, strlen(buf)), "small buffer: '%s'",
          buf);
}

int main(void) {
    if (!mkdtemp(dir)) test_skip("cannot create a temporary folder");
    judge_dataset *ds = make_dataset();
    CHECK(ds && ds->n == 10, "dataset: %s", err);
    if (!ds) return test_finish();
    int idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    check_full_and_resume(ds, idx);
    check_stop_and_failure(ds, idx);
    check_streams(ds, idx);
    judge_dataset_destroy(ds);
    rmdir(dir);
    return test_finish();
}
