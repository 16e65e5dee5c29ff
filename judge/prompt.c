/* Shipped and custom judge prompts; see prompt.h. */
#include "judge/prompt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEMPLATE_BYTES (1u << 20)

/* Metadata of the shipped prompts. max_new_* and the snapping rules are the
 * ones their sources use (../shared/data/README.md, prompts/). */
static const struct builtin {
    const char *name;
    const char *stem;
    const char *placeholder;
    int asks_reason;
    judge_snap snap;
} BUILTINS[] = {
    {"judge-card", "grounded_ai_format_input_classification", "{text}", 1, JUDGE_SNAP_LIBRARY},
    {"judge-noreason", "grounded_ai_lib_2024-06_toxicity_prompt_noreason", "{text}", 0, JUDGE_SNAP_LIBRARY},
    {"judge-reason", "grounded_ai_lib_2024-06_toxicity_prompt_reason", "{text}", 1, JUDGE_SNAP_LIBRARY},
    {"phoenix", "phoenix_TOXICITY_PROMPT_TEMPLATE_BASE_TEMPLATE", "{input}", 0, JUDGE_SNAP_PHOENIX},
};
#define N_BUILTINS ((int)(sizeof BUILTINS / sizeof BUILTINS[0]))

int judge_prompt_builtin_count(void) { return N_BUILTINS; }

const char *judge_prompt_builtin_name(int i) { return (i >= 0 && i < N_BUILTINS) ? BUILTINS[i].name : NULL; }

/* Offset of the first occurrence of needle in hay[0, n), or -1. */
static long find_bytes(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i + m <= n; i++)
        if (!memcmp(hay + i, needle, m)) return (long)i;
    return -1;
}

static judge_prompt *prompt_new(const char *name, const char *source, const char *bytes, size_t len,
                                const char *placeholder) {
    judge_prompt *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->text = malloc(len + 1);
    if (!p->text) {
        free(p);
        return NULL;
    }
    memcpy(p->text, bytes, len);
    p->text[len] = 0;
    p->len = len;
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->source, sizeof p->source, "%s", source);
    snprintf(p->placeholder, sizeof p->placeholder, "%s", placeholder);
    long at = find_bytes(p->text, len, placeholder);
    p->prefix_len = at < 0 ? len : (size_t)at;
    p->max_new_label = 4;
    p->max_new_reason = 56;
    p->snap = JUDGE_SNAP_LIBRARY;
    p->asks_reason = -1;
    return p;
}

judge_prompt *judge_prompt_builtin(const char *name, char *err, size_t errlen) {
    if (!name) name = JUDGE_PROMPT_DEFAULT;
    for (int i = 0; i < N_BUILTINS; i++) {
        if (strcmp(name, BUILTINS[i].name)) continue;
        for (int b = 0; b < judge_prompt_blob_count; b++) {
            const judge_prompt_blob *blob = &judge_prompt_blobs[b];
            if (strcmp(blob->stem, BUILTINS[i].stem)) continue;
            judge_prompt *p = prompt_new(name, blob->stem, (const char *)blob->bytes, blob->len,
                                         BUILTINS[i].placeholder);
            if (!p) {
                snprintf(err, errlen, "prompt %s: out of memory", name);
                return NULL;
            }
            p->asks_reason = BUILTINS[i].asks_reason;
            p->snap = BUILTINS[i].snap;
            return p;
        }
        /* A build that lost judge/prompts/<stem>.txt: a packaging bug. */
        snprintf(err, errlen, "prompt %s: judge/prompts/%s.txt was not embedded in this build", name,
                 BUILTINS[i].stem);
        return NULL;
    }
    char known[256] = "";
    for (int i = 0; i < N_BUILTINS; i++) {
        size_t k = strlen(known);
        snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", BUILTINS[i].name);
    }
    snprintf(err, errlen, "unknown prompt '%s' (known: %s; or --prompt-file FILE)", name, known);
    return NULL;
}

judge_prompt *judge_prompt_from_bytes(const char *bytes, size_t len, const char *name_for_errors,
                                      char *err, size_t errlen) {
    const char *ph = "{text}";
    if (len == 0) {
        snprintf(err, errlen, "%s: empty prompt template (expected text with a %s placeholder)",
                 name_for_errors, ph);
        return NULL;
    }
    if (len > MAX_TEMPLATE_BYTES) {
        snprintf(err, errlen, "%s: prompt template is %zu bytes, expected at most %u", name_for_errors, len,
                 MAX_TEMPLATE_BYTES);
        return NULL;
    }
    const char *nul = memchr(bytes, 0, len);
    if (nul) {
        snprintf(err, errlen, "%s: NUL byte at offset %zu of the prompt template (binary file?)", name_for_errors,
                 (size_t)(nul - bytes));
        return NULL;
    }
    if (find_bytes(bytes, len, ph) < 0) {
        const char *hint = find_bytes(bytes, len, "{input}") >= 0 ? " (found {input}: rename it to {text})" : "";
        snprintf(err, errlen, "%s: prompt template has no %s placeholder%s", name_for_errors, ph, hint);
        return NULL;
    }
    judge_prompt *p = prompt_new("file", name_for_errors, bytes, len, ph);
    if (!p) snprintf(err, errlen, "%s: out of memory", name_for_errors);
    return p;
}

judge_prompt *judge_prompt_from_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open prompt template: %s", path, strerror(errno));
        return NULL;
    }
    /* Read one byte past the limit so an oversized file is reported as such. */
    char *buf = malloc(MAX_TEMPLATE_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, MAX_TEMPLATE_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    judge_prompt *p = NULL;
    if (rerr) snprintf(err, errlen, "%s: read error", path);
    else p = judge_prompt_from_bytes(buf, n, path, err, errlen);
    free(buf);
    return p;
}

void judge_prompt_destroy(judge_prompt *p) {
    if (!p) return;
    free(p->text);
    free(p);
}

char *judge_prompt_render(const judge_prompt *p, const char *text, size_t text_len, size_t *out_len) {
    const char *ph = p->placeholder;
    size_t m = strlen(ph);
    /* First pass counts occurrences so the output is allocated once. */
    size_t count = 0;
    for (size_t i = 0; m && i + m <= p->len;) {
        if (!memcmp(p->text + i, ph, m)) {
            count++;
            i += m;
        } else {
            i++;
        }
    }
    if (count && text_len > (SIZE_MAX - p->len - 1) / count) return NULL;
    size_t total = p->len - count * m + count * text_len;
    char *out = malloc(total + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < p->len;) {
        if (m && i + m <= p->len && !memcmp(p->text + i, ph, m)) {
            if (text_len) memcpy(out + w, text, text_len);
            w += text_len;
            i += m;
        } else {
            out[w++] = p->text[i++];
        }
    }
    out[w] = 0;
    if (out_len) *out_len = w;
    return out;
}
