/* judge results: the JSONL line format, resume after a torn last line, the
 * errors for foreign lines and repeated ids, the lock against a second
 * writer, a real SIGKILL in the middle of a run (every id exactly once after
 * resuming), and the progress and summary text. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "judge/provenance.h"
#include "judge/results.h"
#include "lib/check.h"
#include "util/time.h"

static char err[1024];
static char dir[] = "/tmp/phi3vk_results_XXXXXX";

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    buf[*n] = 0;
    fclose(f);
    return buf;
}

static void append_raw(const char *path, const char *bytes) {
    FILE *f = fopen(path, "ab");
    fputs(bytes, f);
    fclose(f);
}

static judge_result result(const char *id, judge_label label, double p) {
    judge_result r = {id, label, p, NULL, 100, 12.5};
    return r;
}

static void check_line_format(void) {
    judge_result r = {"a\"b", JUDGE_TOXIC, 0.25, "line one\nline \"two\" \xe2\x82", 231, 41.5};
    size_t n = 0;
    char *line = judge_result_line(&r, &n);
    CHECK(line && n == strlen(line) && line[n - 1] == '\n' && !memchr(line, '\n', n - 1), "one line: %s", line ? line : "(null)");
    CHECK(line && !strcmp(line, "{\"id\":\"a\\\"b\",\"label\":\"toxic\",\"p_toxic\":0.25,\"reason\":\"line "
                                "one\\nline \\\"two\\\" \xef\xbf\xbd\xef\xbf\xbd\",\"prompt_tokens\":231,\"ms\":41.5,"
                                "\"schema_version\":1}\n"),
          "exact line: %s", line ? line : "(null)");
    /* the digits that matter: P(toxic) 6 significant, ms one decimal; kept columns last */
    const char *names[2] = {"source", "n"}, *values[2] = {"\"wiki\"", "3"};
    judge_result d = {"7", JUDGE_NON_TOXIC, 0.123456789012, NULL, 12, 41.25678};
    d.n_keep = 2, d.keep_names = names, d.keep_values = values;
    char *dl = judge_result_line(&d, NULL);
    CHECK(dl && !strcmp(dl, "{\"id\":\"7\",\"label\":\"non-toxic\",\"p_toxic\":0.123457,\"reason\":null,"
                            "\"prompt_tokens\":12,\"ms\":41.3,\"schema_version\":1,\"source\":\"wiki\",\"n\":3}\n"),
          "digits and kept columns: %s", dl ? dl : "(null)");
    free(dl);
    judge_result back;
    CHECK(line && judge_result_parse(line, n - 1, &back, err, sizeof err) == 0, "parse back: %s", err);
    CHECK(!strcmp(back.id, "a\"b") && back.label == JUDGE_TOXIC && back.p_toxic == 0.25 &&
              back.prompt_tokens == 231 && back.ms == 41.5 &&
              !strcmp(back.reason, "line one\nline \"two\" \xef\xbf\xbd\xef\xbf\xbd"),
          "round trip");
    free((char *)back.id);
    free((char *)back.reason);
    free(line);

    judge_result nulls = {"7", JUDGE_UNPARSABLE, NAN, NULL, 0, 0};
    line = judge_result_line(&nulls, &n);
    CHECK(line && strstr(line, "\"p_toxic\":null,\"reason\":null"), "nulls: %s", line ? line : "(null)");
    CHECK(judge_result_parse(line, n - 1, &back, err, sizeof err) == 0 && isnan(back.p_toxic) && !back.reason &&
              back.label == JUDGE_UNPARSABLE,
          "null round trip");
    free((char *)back.id);
    free(line);

    const char *bad[] = {"[1]", "{\"label\":\"toxic\"}", "{\"id\":\"1\",\"label\":\"Toxic\"}",
                         "{\"id\":\"1\",\"label\":\"toxic\",\"p_toxic\":\"x\"}", "{\"id\":\"\",\"label\":\"toxic\"}",
                         "{\"id\":1e300,\"label\":\"toxic\"}", "{\"id\":\"1\",\"lab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(judge_result_parse(bad[i], strlen(bad[i]), &back, err, sizeof err) == -1, "bad line %zu accepted", i);
    CHECK(judge_result_parse("{\"id\":12,\"label\":\"toxic\"}", 26, &back, err, sizeof err) == 0 &&
              !strcmp(back.id, "12"),
          "numeric id: %s", err);
    free((char *)back.id);
}

static void check_resume(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    judge_results *r = judge_results_open(path, err, sizeof err);
    CHECK(r && judge_results_count(r) == 0, "new file: %s", err);
    if (!r) return;
    judge_result a = result("1", JUDGE_TOXIC, 0.9), b = result("2", JUDGE_NON_TOXIC, 0.1),
                 c = result("x y", JUDGE_UNPARSABLE, NAN);
    c.reason = "because";
    CHECK(!judge_results_append(r, &a, err, sizeof err) && !judge_results_append(r, &b, err, sizeof err) &&
              !judge_results_append(r, &c, err, sizeof err),
          "append: %s", err);
    CHECK(judge_results_append(r, &a, err, sizeof err) == -1 && strstr(err, "already"), "repeat id: %s", err);
    judge_result bad_id = result("\xff", JUDGE_TOXIC, 0.5);
    CHECK(judge_results_append(r, &bad_id, err, sizeof err) == -1, "invalid UTF-8 id");
    CHECK(judge_results_close(r, err, sizeof err) == 0, "close: %s", err);
    size_t n0 = 0;
    free(slurp(path, &n0));

    /* A torn last line is cut off and its item runs again. */
    const char *torn = "{\"id\":\"4\",\"label\":\"tox";
    append_raw(path, torn);
    r = judge_results_open(path, err, sizeof err);
    CHECK(r && judge_results_count(r) == 3 && judge_results_dropped_bytes(r) == strlen(torn), "torn tail: %s",
          r ? "wrong counts" : err);
    if (!r) return;
    const judge_result *got = judge_results_get(r, "x y");
    CHECK(got && got->label == JUDGE_UNPARSABLE && isnan(got->p_toxic) && got->reason && !strcmp(got->reason, "because"),
          "get");
    CHECK(judge_results_get(r, "4") == NULL && judge_results_get(r, "1")->p_toxic == 0.9, "get absent/present");
    size_t n1 = 0;
    free(slurp(path, &n1));
    CHECK(n1 == n0, "file cut back to %zu bytes (is %zu)", n0, n1);
    judge_result d = result("4", JUDGE_TOXIC, 0.75);
    CHECK(!judge_results_append(r, &d, err, sizeof err), "append after cut: %s", err);
    judge_results_close(r, NULL, 0);

    /* A whole last line missing only its newline is kept and completed. */
    append_raw(path, "{\"id\":\"5\",\"label\":\"non-toxic\",\"p_toxic\":0.2}");
    r = judge_results_open(path, err, sizeof err);
    CHECK(r && judge_results_count(r) == 5 && judge_results_dropped_bytes(r) == 0, "whole tail: %s", err);
    judge_result e = result("6", JUDGE_TOXIC, 0.6);
    CHECK(r && !judge_results_append(r, &e, err, sizeof err), "append after completed line: %s", err);
    judge_results_close(r, NULL, 0);
    size_t n = 0;
    char *text = slurp(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    CHECK(lines == 6 && text[n - 1] == '\n' && strstr(text, "0.2}\n{\"id\":\"6\""), "six lines:\n%s", text);
    free(text);

    /* A foreign line in the middle is an error naming it; so is a repeat. */
    append_raw(path, "not json\n{\"id\":\"9\",\"label\":\"toxic\"}\n");
    r = judge_results_open(path, err, sizeof err);
    CHECK(!r && strstr(err, "out.jsonl:7:") && strstr(err, "not a phi3vk result line"), "foreign line: %s", err);
    char path2[256];
    snprintf(path2, sizeof path2, "%s/dup.jsonl", dir);
    append_raw(path2, "{\"id\":\"1\",\"label\":\"toxic\"}\n\n{\"id\":\"1\",\"label\":\"toxic\"}\n");
    r = judge_results_open(path2, err, sizeof err);
    CHECK(!r && strstr(err, "dup.jsonl:3:") && strstr(err, "'1'"), "repeated id in file: %s", err);
    r = judge_results_open(dir, err, sizeof err);
    CHECK(!r, "a directory is refused");
    remove(path);
    remove(path2);
}

/* Issue 14 row 2: a file with no newline at all that is not a result (a
 * user's items) was taken for a torn line and cut to nothing. */
static void check_not_ours(void) {
    char path[256];
    const char *items = "{\"text\": \"the only item\"}";
    const char *torn[] = {"{\"id\":\"4\",\"lab", "{\"provenance\":{\"mod", "{\"i"};
    snprintf(path, sizeof path, "%s/items.jsonl", dir);
    append_raw(path, items);
    judge_results *r = judge_results_open(path, err, sizeof err);
    size_t n = 0;
    char *back = slurp(path, &n);
    CHECK(!r && strstr(err, "items.jsonl:1: the last line, without a newline, is not a phi3vk result line"), "%s", err);
    CHECK(back && n == strlen(items) && !memcmp(back, items, n), "the file is unchanged: '%s'", back ? back : "");
    free(back);
    judge_results_close(r, NULL, 0);
    remove(path);
    /* what a crash inside the first write() leaves is still cut */
    for (int i = 0; i < 3; i++) {
        append_raw(path, torn[i]);
        r = judge_results_open(path, err, sizeof err);
        CHECK(r && judge_results_count(r) == 0 && judge_results_dropped_bytes(r) == strlen(torn[i]), "torn first line %d: %s", i,
              r ? "kept" : err);
        judge_results_close(r, NULL, 0);
        remove(path);
    }
}

/* Issue 14 row 7: records carry their text's hash; a result for another text
 * or an error result is replaced, a repeat for the same text is refused. */
static void check_replace(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/replace.jsonl", dir);
    judge_results *r = judge_results_open(path, err, sizeof err);
    CHECK(r, "%s", err);
    if (!r) return;
    judge_result a = result("1", JUDGE_TOXIC, 0.9), b = a, e = result("2", JUDGE_ERROR, NAN), f = result("2", JUDGE_TOXIC, 0.7);
    judge_sha256_hex("old text", 8, a.text_sha256);
    judge_sha256_hex("new text", 8, b.text_sha256);
    b.p_toxic = 0.2, b.label = JUDGE_NON_TOXIC;
    e.error = "the prompt has 5000 tokens, more than the model's context of 4096";
    judge_sha256_hex("long", 4, e.text_sha256);
    memcpy(f.text_sha256, e.text_sha256, 65);
    CHECK(!judge_results_append(r, &a, err, sizeof err) && !judge_results_append(r, &e, err, sizeof err), "%s", err);
    CHECK(judge_results_append(r, &a, err, sizeof err) == -1 && strstr(err, "already"), "same text again: %s", err);
    CHECK(!judge_results_append(r, &b, err, sizeof err) && !judge_results_append(r, &f, err, sizeof err), "replace: %s", err);
    judge_results_close(r, NULL, 0);
    r = judge_results_open(path, err, sizeof err);
    CHECK(r && judge_results_count(r) == 2, "reopen: %s", err);
    const judge_result *g1 = r ? judge_results_get(r, "1") : NULL, *g2 = r ? judge_results_get(r, "2") : NULL;
    CHECK(g1 && g1->p_toxic == 0.2 && !strcmp(g1->text_sha256, b.text_sha256), "the later record of id 1 wins");
    CHECK(g2 && g2->label == JUDGE_TOXIC && !g2->error, "the error of id 2 was replaced");
    judge_results_close(r, NULL, 0);
    /* an error line round trip */
    char *line = judge_result_line(&e, NULL);
    judge_result back;
    CHECK(line && judge_result_parse(line, strlen(line) - 1, &back, err, sizeof err) == 0 && back.label == JUDGE_ERROR &&
              back.error && !strcmp(back.error, e.error) && !strcmp(back.text_sha256, e.text_sha256),
          "error line: %s / %s", line ? line : "", err);
    if (line && !strstr(line, "\"label\":\"error\"")) CHECK(0, "label error in '%s'", line);
    free((char *)back.id);
    free((char *)back.error);
    free(line);
    /* a \u0000 in a result's id would cut it */
    CHECK(judge_result_parse("{\"id\":\"1\\u0000x\",\"label\":\"toxic\"}", 33, &back, err, sizeof err) == -1 &&
              strstr(err, "NUL"), "\\u0000 in an id: %s", err);
    /* provenance: written once, compared */
    judge_provenance p = {0}, q;
    snprintf(p.model, sizeof p.model, "m");
    snprintf(p.prompt, sizeof p.prompt, "judge-card");
    r = judge_results_open(path, err, sizeof err);
    CHECK(r && !judge_results_provenance(r) && !judge_results_set_provenance(r, &p, err, sizeof err) &&
              !judge_results_set_provenance(r, &p, err, sizeof err), "provenance: %s", err);
    judge_results_close(r, NULL, 0);
    r = judge_results_open(path, err, sizeof err);
    const judge_provenance *fp = r ? judge_results_provenance(r) : NULL;
    q = p;
    snprintf(q.prompt, sizeof q.prompt, "phoenix");
    char diff[512];
    CHECK(fp && judge_provenance_diff(fp, &p, diff, sizeof diff) == 0, "provenance read back");
    CHECK(fp && judge_provenance_diff(fp, &q, diff, sizeof diff) == 1 && strstr(diff, "prompt: the file has 'judge-card', this run 'phoenix'"),
          "diff: %s", diff);
    judge_results_close(r, NULL, 0);
    size_t n = 0;
    char *text = slurp(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    CHECK(lines == 5, "4 results + 1 provenance line, found %d lines", lines);
    free(text);
    remove(path);
}

/* A child holding the file makes a second open fail. */
static void check_lock(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/locked.jsonl", dir);
    int to_parent[2], to_child[2];
    if (pipe(to_parent) || pipe(to_child)) return;
    pid_t pid = fork();
    if (pid == 0) {
        judge_results *r = judge_results_open(path, err, sizeof err);
        char c = r ? 'y' : 'n';
        if (write(to_parent[1], &c, 1) != 1 || read(to_child[0], &c, 1) != 1) _exit(1);
        judge_results_close(r, NULL, 0);
        _exit(0);
    }
    char c = 0;
    CHECK(read(to_parent[0], &c, 1) == 1 && c == 'y', "child opened");
    judge_results *r = judge_results_open(path, err, sizeof err);
    CHECK(!r && strstr(err, "another process"), "second writer refused: %s", err);
    judge_results_close(r, NULL, 0);
    CHECK(write(to_child[1], "x", 1) == 1, "release");
    int status = 0;
    waitpid(pid, &status, 0);
    r = judge_results_open(path, err, sizeof err);
    CHECK(r != NULL, "open after the child closed: %s", err);
    judge_results_close(r, NULL, 0);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    remove(path);
}

/* A child appends results with long reasons as fast as it can and is killed
 * with SIGKILL; the resumed run adds the missing ids. Every id 0..total-1
 * must then be in the file exactly once, every line whole. */
static void check_sigkill(int round) {
    enum { TOTAL = 3000 };
    char path[256];
    snprintf(path, sizeof path, "%s/kill%d.jsonl", dir, round);
    static char reason[8192];
    memset(reason, 'r', sizeof reason - 1);
    pid_t pid = fork();
    if (pid == 0) {
        judge_results *r = judge_results_open(path, err, sizeof err);
        if (!r) _exit(2);
        for (int i = 0; i < TOTAL; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", i);
            judge_result res = result(id, (judge_label)(i % 3), i / (double)TOTAL);
            res.reason = reason;
            if (judge_results_append(r, &res, err, sizeof err)) _exit(3);
        }
        judge_results_close(r, NULL, 0);
        _exit(0);
    }
    /* Kill once the file has grown past a size that differs per round. */
    struct stat st;
    off_t want = (off_t)(200000 + round * 1234567);
    for (int spin = 0; spin < 20000; spin++) {
        if (stat(path, &st) == 0 && st.st_size > want) break;
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0), "child status %d", status);

    judge_results *r = judge_results_open(path, err, sizeof err);
    CHECK(r != NULL, "reopen after SIGKILL: %s", err);
    if (!r) return;
    int before = judge_results_count(r), added = 0;
    printf("round %d: %d results survived SIGKILL, %zu torn bytes cut\n", round, before,
           judge_results_dropped_bytes(r));
    for (int i = 0; i < TOTAL; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        if (judge_results_get(r, id)) continue;
        judge_result res = result(id, JUDGE_TOXIC, 0.5);
        added += judge_results_append(r, &res, err, sizeof err) == 0;
    }
    CHECK(before + added == TOTAL && judge_results_count(r) == TOTAL, "round %d: %d before, %d added", round, before,
          added);
    judge_results_close(r, NULL, 0);

    /* Independent check of the raw file: whole lines, each id once. */
    size_t n = 0;
    char *text = slurp(path, &n);
    static unsigned char seen[TOTAL];
    memset(seen, 0, sizeof seen);
    int lines = 0, bad = 0;
    for (char *p = text; p && p < text + n;) {
        char *nl = memchr(p, '\n', (size_t)(text + n - p));
        if (!nl) {
            bad++;
            break;
        }
        judge_result res;
        if (judge_result_parse(p, (size_t)(nl - p), &res, err, sizeof err) == 0) {
            int id = atoi(res.id);
            if (id >= 0 && id < TOTAL) seen[id]++;
            free((char *)res.id);
            free((char *)res.reason);
        } else {
            bad++;
        }
        lines++;
        p = nl + 1;
    }
    int once = 0;
    for (int i = 0; i < TOTAL; i++) once += seen[i] == 1;
    CHECK(lines == TOTAL && bad == 0 && once == TOTAL, "round %d: %d lines, %d bad, %d ids once", round, lines, bad,
          once);
    free(text);
    remove(path);
}

static void check_progress(void) {
    judge_progress p;
    judge_progress_start(&p, 350, 12);
    p.start = 100.0;
    judge_result res = result("1", JUDGE_UNPARSABLE, NAN);
    res.prompt_tokens = 200;
    for (int i = 0; i < 120; i++) judge_progress_add(&p, &res);
    char buf[200];
    /* 120 items in 10 s: 12 items/s; 230 left: 19.2 s -> 0:19; 34%; 6/20 of the bar. */
    judge_progress_format(&p, 110.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "120/350  34% [######--------------]   12.0 items/s  ETA 0:19"), "bar: '%s'", buf);
    judge_summary_format(&p, 110.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "120 items (12 more already done), 24000 prompt tokens, 10.0 s, 12.0 items/s, 120 unparsable"),
          "summary: '%s'", buf);
    judge_progress_start(&p, 2, 0);
    p.start = 0;
    judge_progress_format(&p, 5.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "0/2   0% [--------------------]    0.0 items/s  ETA --:--"), "empty bar: '%s'", buf);
    judge_progress_start(&p, 100000, 0);
    p.start = 0;
    p.done = 10;
    judge_progress_format(&p, 1.0, buf, sizeof buf);
    CHECK(strstr(buf, "ETA 2:46:39"), "hours: '%s'", buf);
    /* A CPU device's pace: 12 items in 88.8 s is 0.135 items/s, not "0.1". */
    judge_progress_start(&p, 40, 0);
    p.start = 0;
    for (int i = 0; i < 12; i++) judge_progress_add(&p, &res);
    judge_progress_format(&p, 88.8, buf, sizeof buf);
    CHECK(strstr(buf, "]  0.135 items/s  ETA 3:27"), "slow bar: '%s'", buf);
    judge_summary_format(&p, 88.8, buf, sizeof buf);
    CHECK(strstr(buf, ", 88.8 s, 0.135 items/s,"), "slow summary: '%s'", buf);
    judge_progress_format(&p, 6.0, buf, sizeof buf);
    CHECK(strstr(buf, "]   2.00 items/s"), "2 items/s: '%s'", buf);
    CHECK(util_now_s() > 0, "clock");
}

int main(void) {
    if (!mkdtemp(dir)) test_skip("cannot create a temporary folder");
    check_line_format();
    check_resume();
    check_not_ours();
    check_replace();
    check_lock();
    for (int round = 0; round < 3; round++) check_sigkill(round);
    check_progress();
    rmdir(dir);
    return test_finish();
}
