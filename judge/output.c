/* CSV, TSV and Hugging Face pipeline output of judge records; see output.h. */
#include "judge/output.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge/label.h"

static const char *const NAMES[] = {"table", "jsonl", "csv", "tsv", "hf"};

const char *judge_output_format_name(judge_output_format f) {
    return f >= JUDGE_OUTPUT_TABLE && f <= JUDGE_OUTPUT_HF ? NAMES[f] : "?";
}

int judge_output_format_parse(const char *name, judge_output_format *out) {
    for (int f = JUDGE_OUTPUT_TABLE; f <= JUDGE_OUTPUT_HF; f++)
        if (name && !strcmp(name, NAMES[f])) {
            *out = (judge_output_format)f;
            return 0;
        }
    return -1;
}

int judge_output_reserved(const char *name) {
    static const char *const fields[] = {"id",    "label", "p_toxic",   "reason",         "prompt_tokens",
                                         "ms",    "text_sha256", "error", "truncated", "schema_version", "provenance"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strcmp(name, fields[i])) return 1;
    return 0;
}

/* One CSV or TSV field (n bytes). */
static void put_field(FILE *f, judge_output_format fmt, const char *s, size_t n) {
    if (fmt == JUDGE_OUTPUT_TSV) {
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
                fputc('\\', f);
                c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
            }
            fputc(c, f);
        }
        return;
    }
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++) quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void put_str(FILE *f, judge_output_format fmt, const char *s) { put_field(f, fmt, s, strlen(s)); }

/* A kept value (JSON text): a string as its text, null as nothing, any
 * other value as its JSON. */
static int put_kept(FILE *f, judge_output_format fmt, const char *json) {
    if (json[0] != '"') {
        if (strcmp(json, "null")) put_str(f, fmt, json);
        return 0;
    }
    cJSON *v = cJSON_Parse(json);
    if (!cJSON_IsString(v)) {
        cJSON_Delete(v);
        return -1;
    }
    put_str(f, fmt, v->valuestring);
    cJSON_Delete(v);
    return 0;
}

int judge_output_begin(judge_output *w, const char *const *keep_names, int n_keep) {
    FILE *f = w->f;
    judge_output_format fmt = w->fmt;
    w->n = 0;
    if (fmt == JUDGE_OUTPUT_HF) fputc('[', f);
    if (fmt == JUDGE_OUTPUT_CSV || fmt == JUDGE_OUTPUT_TSV) {
        char sep = fmt == JUDGE_OUTPUT_CSV ? ',' : '\t';
        static const char *const cols[] = {"id", "label", "p_toxic", "reason", "error", "truncated", "prompt_tokens",
                                           "ms"};
        for (int i = 0; i < 8; i++) {
            if (i) fputc(sep, f);
            fputs(cols[i], f);
        }
        for (int k = 0; k < n_keep; k++) {
            fputc(sep, f);
            put_str(f, fmt, keep_names[k]);
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* hf: {"label": ..., "score": ...}. */
static int put_hf(FILE *f, const judge_result *r, int index) {
    double score = NAN;
    if (r->label == JUDGE_TOXIC) score = r->p_toxic;
    else if (r->label == JUDGE_NON_TOXIC) score = 1.0 - r->p_toxic;
    char s[32];
    judge_format_p(score, s, sizeof s);
    fprintf(f, "%s\n  {\"label\": \"%s\", \"score\": %s}", index ? "," : "", judge_label_name(r->label), s);
    return 0;
}

int judge_output_record(judge_output *w, const judge_result *r) {
    FILE *f = w->f;
    judge_output_format fmt = w->fmt;
    if (fmt == JUDGE_OUTPUT_HF) return put_hf(f, r, w->n++) || ferror(f) ? -1 : 0;
    w->n++;
    if (fmt != JUDGE_OUTPUT_CSV && fmt != JUDGE_OUTPUT_TSV) return 0;
    char sep = fmt == JUDGE_OUTPUT_CSV ? ',' : '\t', p[32];
    char *reason = r->reason ? judge_utf8_sanitize(r->reason) : NULL;
    if (r->reason && !reason) return -1;
    judge_format_p(r->p_toxic, p, sizeof p);
    put_str(f, fmt, r->id);
    fputc(sep, f);
    put_str(f, fmt, judge_label_name(r->label));
    fprintf(f, "%c%s%c", sep, strcmp(p, "null") ? p : "", sep);
    put_str(f, fmt, reason ? reason : "");
    fputc(sep, f);
    put_str(f, fmt, r->error ? r->error : "");
    fprintf(f, "%c%d%c%d%c%.1f", sep, r->truncated ? 1 : 0, sep, r->prompt_tokens, sep,
            isfinite(r->ms) && fabs(r->ms) < 1e15 ? r->ms : 0.0);
    free(reason);
    int rc = 0;
    for (int k = 0; k < r->n_keep; k++) {
        fputc(sep, f);
        rc |= put_kept(f, fmt, r->keep_values[k]);
    }
    fputc('\n', f);
    return rc || ferror(f) ? -1 : 0;
}

int judge_output_end(judge_output *w) {
    if (w->fmt == JUDGE_OUTPUT_HF) fputs("\n]\n", w->f);
    return fflush(w->f) || ferror(w->f) ? -1 : 0;
}
