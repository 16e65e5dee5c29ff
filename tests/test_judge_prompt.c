/* judge prompts: the embedded templates equal ../shared/data/prompts byte for
 * byte, rendering substitutes exactly the placeholder, metadata is right,
 * and custom templates are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "judge/prompt.h"

/* Whole file, malloc'ed, length in *n; NULL if unreadable. */
static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *n = len;
    return buf;
}

/* Independent reference: splice text into the shared file at the single
 * placeholder found with strstr. */
static char *splice(const char *tmpl, size_t n, const char *ph, const char *text, size_t *out_n) {
    const char *at = strstr(tmpl, ph);
    if (!at) return NULL;
    size_t pre = (size_t)(at - tmpl), m = strlen(ph), t = strlen(text);
    char *out = malloc(n - m + t + 1);
    memcpy(out, tmpl, pre);
    memcpy(out + pre, text, t);
    memcpy(out + pre + t, at + m, n - pre - m);
    *out_n = n - m + t;
    out[*out_n] = 0;
    return out;
}

static void check_builtins_against_shared(void) {
    const char *dir = test_data_dir();
    static const struct {
        const char *name, *file, *ph;
        int asks_reason;
        judge_snap snap;
    } cases[] = {
        {"judge-card", "grounded_ai_format_input_classification.txt", "{text}", 1, JUDGE_SNAP_LIBRARY},
        {"judge-noreason", "grounded_ai_lib_2024-06_toxicity_prompt_noreason.txt", "{text}", 0, JUDGE_SNAP_LIBRARY},
        {"judge-reason", "grounded_ai_lib_2024-06_toxicity_prompt_reason.txt", "{text}", 1, JUDGE_SNAP_LIBRARY},
        {"phoenix", "phoenix_TOXICITY_PROMPT_TEMPLATE_BASE_TEMPLATE.txt", "{input}", 0, JUDGE_SNAP_PHOENIX},
    };
    /* Texts that would trip a naive renderer: placeholders, braces, escapes,
     * newlines, multi-byte UTF-8, and the empty string. */
    const char *texts[] = {"You are an idiot.", "", "{text} and {input} and {{text}}", "a\\nb\tc\r\nd",
                           "caf\xc3\xa9 \xf0\x9f\x98\x80 \"quoted\""};
    CHECK(judge_prompt_builtin_count() == 4, "%d builtins", judge_prompt_builtin_count());
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[4096], err[512] = "";
        snprintf(path, sizeof path, "%s/prompts/%s", dir, cases[c].file);
        size_t n = 0;
        char *shared = read_file(path, &n);
        CHECK(shared != NULL, "cannot read %s", path);
        if (!shared) continue;
        shared = realloc(shared, n + 1);
        shared[n] = 0;
        judge_prompt *p = judge_prompt_builtin(cases[c].name, err, sizeof err);
        CHECK(p != NULL, "%s: %s", cases[c].name, err);
        if (!p) {
            free(shared);
            continue;
        }
        CHECK(p->len == n && !memcmp(p->text, shared, n), "%s: embedded text differs from %s", cases[c].name, path);
        CHECK(!strcmp(p->placeholder, cases[c].ph), "%s: placeholder %s", cases[c].name, p->placeholder);
        CHECK(p->asks_reason == cases[c].asks_reason, "%s: asks_reason %d", cases[c].name, p->asks_reason);
        CHECK(p->snap == cases[c].snap, "%s: snap %d", cases[c].name, (int)p->snap);
        CHECK(p->max_new_label == 4 && p->max_new_reason == 56, "%s: max_new %d/%d", cases[c].name,
              p->max_new_label, p->max_new_reason);
        CHECK(p->prefix_len == (size_t)(strstr(shared, cases[c].ph) - shared), "%s: prefix_len %zu", cases[c].name,
              p->prefix_len);
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            size_t want_n = 0, got_n = 0;
            char *want = splice(shared, n, cases[c].ph, texts[t], &want_n);
            char *got = judge_prompt_render(p, texts[t], strlen(texts[t]), &got_n);
            CHECK(want && got && want_n == got_n && !memcmp(want, got, got_n), "%s: render of text %zu differs",
                  cases[c].name, t);
            CHECK(got && got[got_n] == 0, "%s: render not NUL-terminated", cases[c].name);
            free(want);
            free(got);
        }
        judge_prompt_destroy(p);
        free(shared);
    }
}

static void check_builtin_errors(void) {
    char err[512] = "";
    judge_prompt *p = judge_prompt_builtin(NULL, err, sizeof err);
    CHECK(p && !strcmp(p->name, "judge-card"), "default prompt: %s", p ? p->name : err);
    judge_prompt_destroy(p);
    p = judge_prompt_builtin("judge", err, sizeof err);
    CHECK(!p && strstr(err, "unknown prompt 'judge'") && strstr(err, "phoenix"), "unknown name: %s", err);
    judge_prompt_destroy(NULL);
}

static void check_custom(void) {
    char err[512] = "";
    const char *t = "Is this toxic? {text}\nAnswer: {text}!";
    judge_prompt *p = judge_prompt_from_bytes(t, strlen(t), "t.txt", err, sizeof err);
    CHECK(p != NULL, "%s", err);
    if (p) {
        size_t n = 0;
        char *r = judge_prompt_render(p, "x{text}y", 8, &n);
        /* Every occurrence substituted; the substituted text is not rescanned. */
        CHECK(r && !strcmp(r, "Is this toxic? x{text}y\nAnswer: x{text}y!") && n == strlen(r), "render: %s",
              r ? r : "(null)");
        CHECK(p->prefix_len == 15 && p->asks_reason == -1 && !strcmp(p->name, "file"), "meta %zu %d",
              p->prefix_len, p->asks_reason);
        free(r);
        judge_prompt_destroy(p);
    }
    p = judge_prompt_from_bytes("no placeholder", 14, "t.txt", err, sizeof err);
    CHECK(!p && strstr(err, "t.txt") && strstr(err, "{text}"), "missing placeholder: %s", err);
    p = judge_prompt_from_bytes("Text: {input}", 13, "p.txt", err, sizeof err);
    CHECK(!p && strstr(err, "{input}"), "{input} hint: %s", err);
    p = judge_prompt_from_bytes("", 0, "e.txt", err, sizeof err);
    CHECK(!p && strstr(err, "empty"), "empty: %s", err);
    p = judge_prompt_from_bytes("a\0{text}", 8, "z.txt", err, sizeof err);
    CHECK(!p && strstr(err, "NUL"), "NUL: %s", err);
    p = judge_prompt_from_file("/nonexistent/prompt.txt", err, sizeof err);
    CHECK(!p && strstr(err, "/nonexistent/prompt.txt"), "missing file: %s", err);

    char path[] = "/tmp/phi3vk_prompt_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        fputs("[{text}]", f);
        fclose(f);
        p = judge_prompt_from_file(path, err, sizeof err);
        size_t n = 0;
        char *r = p ? judge_prompt_render(p, "hi", 2, &n) : NULL;
        CHECK(r && !strcmp(r, "[hi]") && !strcmp(p->source, path), "file render: %s", r ? r : err);
        free(r);
        judge_prompt_destroy(p);
        remove(path);
    }
}

int main(void) {
    check_builtin_errors();
    check_custom();
    check_builtins_against_shared();
    return test_finish();
}
