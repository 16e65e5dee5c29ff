/* judge streams (classify reading a pipe as it arrives), without a model:
 *   - an item is handed out as soon as its line is whole, while the writer
 *     keeps the pipe open; a line written in two pieces waits for its end;
 *     what is already there comes as one batch (at most max);
 *   - the dataset rules: line-number ids, blank lines skipped, CRLF, a last
 *     line without a newline at the end of the input, JSONL with an id
 *     field, a repeated id and a NUL byte refused with <stdin>:line, --limit;
 *   - a signal interrupts the wait once *stop is set (Ctrl-C);
 *   - judge_stream_run: results in input order on the JSONL stream, the
 *     table header once, items of other shards skipped, items an --out file
 *     already has skipped (resume), the rest written to it. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "judge/provenance.h"
#include "judge/shard.h"
#include "judge/stream.h"
#include "lib/check.h"

static char err[1024];

static judge_stream *open_pipe(int fd[2], judge_format f, const char *id_key, int limit) {
    if (pipe(fd)) return NULL;
    judge_stream_opts o = {.ds = {.format = f, .id_key = id_key}, .limit = limit};
    return judge_stream_open(fd[0], "<stdin>", &o, err, sizeof err);
}

static void put(int fd, const char *s) {
    if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) perror("write");
}

static void arrival(void) {
    int fd[2];
    judge_stream *s = open_pipe(fd, JUDGE_FORMAT_TEXT, NULL, 0);
    const judge_item *const *it;
    put(fd[1], "first\n");
    int n = judge_stream_next(s, &it, 8, NULL, err, sizeof err);
    CHECK(n == 1 && !strcmp(it[0]->text, "first") && !strcmp(it[0]->id, "1"), "one line, answered while the pipe "
          "stays open: %d", n);
    put(fd[1], "sec");
    put(fd[1], "ond\n\n  \nthird\r\nfourth\n");
    n = judge_stream_next(s, &it, 2, NULL, err, sizeof err);
    CHECK(n == 2 && !strcmp(it[0]->text, "second") && !strcmp(it[1]->text, "third") && !strcmp(it[1]->id, "5"),
          "a line in two pieces; blank lines skipped, CRLF, at most max: %d %s", n, n == 2 ? it[1]->id : "");
    put(fd[1], "last, no newline");
    close(fd[1]);
    n = judge_stream_next(s, &it, 8, NULL, err, sizeof err);
    CHECK(n == 2 && !strcmp(it[0]->text, "fourth") && !strcmp(it[1]->text, "last, no newline") &&
          it[1]->line == 7, "the rest at the end of the input: %d", n);
    CHECK(judge_stream_next(s, &it, 8, NULL, err, sizeof err) == 0, "then the end");
    judge_stream_close(s);
    close(fd[0]);
}

static void errors(void) {
    int fd[2];
    const judge_item *const *it;
    judge_stream *s = open_pipe(fd, JUDGE_FORMAT_JSONL, "id", 0);
    put(fd[1], "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": 7, \"text\": \"y\"}\n");
    int n = judge_stream_next(s, &it, 8, NULL, err, sizeof err);
    CHECK(n == 2 && !strcmp(it[1]->id, "7"), "JSONL with an id field: %d", n);
    put(fd[1], "{\"id\": \"a\", \"text\": \"again\"}\n");
    CHECK(judge_stream_next(s, &it, 8, NULL, err, sizeof err) == -1 && strstr(err, "<stdin>:3") &&
          strstr(err, "repeats the id of line 1"), "a repeated id: %s", err);
    judge_stream_close(s);
    close(fd[0]);
    close(fd[1]);

    s = open_pipe(fd, JUDGE_FORMAT_AUTO, NULL, 0);
    put(fd[1], "fine\nbad\0byte\n");
    n = judge_stream_next(s, &it, 1, NULL, err, sizeof err);
    CHECK(n == 1, "the line before the NUL: %d", n);
    CHECK(write(fd[1], "x\0y\n", 4) == 4, "write");
    CHECK(judge_stream_next(s, &it, 8, NULL, err, sizeof err) == -1 && strstr(err, "<stdin>:2") && strstr(err, "NUL"),
          "a NUL byte: %s", err);
    judge_stream_close(s);
    close(fd[0]);
    close(fd[1]);

    s = open_pipe(fd, JUDGE_FORMAT_TEXT, NULL, 2);
    put(fd[1], "a\nb\nc\n");
    n = judge_stream_next(s, &it, 8, NULL, err, sizeof err);
    CHECK(n == 2 && judge_stream_next(s, &it, 8, NULL, err, sizeof err) == 0, "--limit 2: %d, then the end", n);
    judge_stream_close(s);
    close(fd[0]);
    close(fd[1]);

    judge_stream_opts o = {.ds = {.format = JUDGE_FORMAT_CSV}};
    CHECK(!judge_stream_open(0, "<stdin>", &o, err, sizeof err) && strstr(err, "csv"), "csv is read whole: %s", err);
}

static volatile sig_atomic_t stop;
static void on_usr1(int sig) { (void)sig; }

static void *interrupt(void *main_thread) {
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    stop = 1;
    pthread_kill(*(pthread_t *)main_thread, SIGUSR1);
    return NULL;
}

static void stopping(void) {
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART, as signal() for SIGINT is not for poll */
    sigaction(SIGUSR1, &sa, NULL);
    int fd[2];
    judge_stream *s = open_pipe(fd, JUDGE_FORMAT_TEXT, NULL, 0);
    const judge_item *const *it;
    pthread_t self = pthread_self(), th;
    pthread_create(&th, NULL, interrupt, &self);
    int n = judge_stream_next(s, &it, 8, &stop, err, sizeof err);
    pthread_join(th, NULL);
    CHECK(n == 0 && stop, "a signal with *stop set ends the wait: %d", n);
    judge_stream_close(s);
    close(fd[0]);
    close(fd[1]);
}

/* "bad" in the text: toxic */
static int rule(void *user, const judge_item *const *items, int n, judge_result *out, char *e, size_t el) {
    (void)e, (void)el;
    (*(int *)user) += n;
    for (int i = 0; i < n; i++) {
        int bad = strstr(items[i]->text, "bad") != NULL;
        out[i].label = bad ? JUDGE_TOXIC : JUDGE_NON_TOXIC;
        out[i].p_toxic = bad ? 0.9 : 0.1;
        out[i].prompt_tokens = 10;
    }
    return 0;
}

static void run(void) {
    char dir[] = "/tmp/phi3vk_stream_XXXXXX", path[256];
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    judge_results *out = judge_results_open(path, err, sizeof err);
    judge_result done = {.id = "2", .label = JUDGE_TOXIC, .p_toxic = 0.5, .prompt_tokens = 3};
    judge_sha256_hex("bad two", 7, done.text_sha256);
    CHECK(out && judge_results_append(out, &done, err, sizeof err) == 0, "an --out file with item 2: %s", err);
    int fd[2];
    if (pipe(fd)) return;
    judge_stream_opts so = {.shard = {1, 1}};
    judge_stream *s = judge_stream_open(fd[0], "<stdin>", &so, err, sizeof err);
    put(fd[1], "good one\nbad two\nbad three\ngood four\n");
    close(fd[1]);
    FILE *jsonl = tmpfile(), *table = tmpfile();
    int calls = 0;
    judge_run_opts o = {.batch = 2, .out = out, .jsonl = jsonl, .table = table};
    judge_progress prog;
    CHECK(judge_stream_run(s, rule, &calls, &o, &prog, err, sizeof err) == 0, "run: %s", err);
    CHECK(prog.done == 3 && prog.resumed == 1 && calls == 3, "3 classified, 1 resumed: %d %d (%d items to fn)",
          prog.done, prog.resumed, calls);
    char buf[4096] = "";
    rewind(jsonl);
    size_t k = fread(buf, 1, sizeof buf - 1, jsonl);
    buf[k] = 0;
    char *a = strstr(buf, "\"id\":\"1\""), *b = strstr(buf, "\"id\":\"3\""), *c = strstr(buf, "\"id\":\"4\"");
    CHECK(a && b && c && a < b && b < c && !strstr(buf, "\"id\":\"2\""), "JSONL in order without the resumed: %s", buf);
    rewind(table);
    k = fread(buf, 1, sizeof buf - 1, table);
    buf[k] = 0;
    CHECK(!strncmp(buf, "id ", 3) && strstr(buf, "bad three"), "the table: %s", buf);
    int headers = 0;
    for (char *p = buf; (p = strstr(p, "p_toxic")); p++) headers++;
    CHECK(headers == 1, "the table's header once: %d", headers);
    CHECK(judge_results_count(out) == 4, "the --out file now holds 4: %d", judge_results_count(out));
    judge_stream_close(s);
    close(fd[0]);

    /* shard 2/3: only its items */
    if (pipe(fd)) return;
    so.shard = (judge_shard){2, 3};
    s = judge_stream_open(fd[0], "<stdin>", &so, err, sizeof err);
    for (int i = 1; i <= 30; i++) dprintf(fd[1], "text %d\n", i);
    close(fd[1]);
    calls = 0;
    judge_run_opts o2 = {.batch = 4};
    CHECK(judge_stream_run(s, rule, &calls, &o2, &prog, err, sizeof err) == 0, "sharded run: %s", err);
    int want = 0;
    char id[8];
    for (int i = 1; i <= 30; i++) snprintf(id, sizeof id, "%d", i), want += judge_shard_of(id, 3) == 2;
    CHECK(calls == want && prog.done == want, "shard 2/3: %d items, %d wanted", calls, want);
    judge_stream_close(s);
    close(fd[0]);
    judge_results_close(out, err, sizeof err);
    fclose(jsonl);
    fclose(table);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    arrival();
    errors();
    stopping();
    run();
    return test_finish();
}
