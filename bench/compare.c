/* bench-compare: parsing bench output files and lining their rows up (see
 * compare.h); the text and SVG outputs are bench/compare_out.c. */
#include "bench/compare.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"

/* ---- reading one row ---- */

/* Where a row is, for messages: "a.jsonl:3" or "a.json row 2". */
typedef struct where {
    const char *name;
    int line, row;
} where;

static int bad(const where *w, char *err, size_t errlen, const char *what) {
    if (w->line) snprintf(err, errlen, "%s:%d: %s", w->name, w->line, what);
    else snprintf(err, errlen, "%s: row %d: %s", w->name, w->row, what);
    return -1;
}

/* The string field key (NULL when absent); -1 when present but not a string. */
static int get_str(const cJSON *o, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return -1;
    *out = v->valuestring;
    return 0;
}

/* The number field key: 1 when present and finite, 0 when absent or null, -1 otherwise. */
static int get_num(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return -1;
    *out = v->valuedouble;
    return 1;
}

/* Reads a samples array of positive finite numbers into r (scaled by
 * `scale / x` when invert, else x). 1 when read, 0 when absent, -1 bad. */
static int get_samples(const cJSON *o, const char *key, int invert, double scale, bench_cmp_row *r) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!a || cJSON_IsNull(a)) return 0;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < 1 || n > BENCH_MAX_REPS) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0)) return -1;
        r->samples[i] = invert ? scale / v->valuedouble : v->valuedouble;
    }
    r->n = n;
    return 1;
}

static int kernel_row(const cJSON *o, const where *w, bench_cmp_row *r, char *err, size_t errlen) {
    const char *name, *check;
    double n, k, t, ms, nmse;
    if (get_str(o, "kernel", &name) || !name) return bad(w, err, errlen, "field kernel: expected a string");
    if (get_num(o, "n", &n) != 1 || get_num(o, "k", &k) != 1 || get_num(o, "t", &t) != 1 || !(n >= 1) ||
        !(k >= 1) || !(t >= 1))
        return bad(w, err, errlen, "fields n, k, t: expected the kernel's shape (numbers >= 1)");
    double flops = 2 * n * k * t / 1e6; /* GFLOP/s = flops / ms / 1e6 */
    int s = get_samples(o, "samples_ms", 1, flops, r);
    if (s < 0) return bad(w, err, errlen, "field samples_ms: expected 1 .. 100 positive numbers");
    if (s == 0) {
        if (get_num(o, "ms", &ms) != 1 || !(ms > 0))
            return bad(w, err, errlen, "fields samples_ms and ms: expected the kernel's timings");
        r->samples[0] = flops / ms, r->n = 1;
    }
    snprintf(r->kind, sizeof r->kind, "kernel");
    snprintf(r->test, sizeof r->test, "%s", name);
    snprintf(r->unit, sizeof r->unit, "GFLOP/s");
    snprintf(r->key, sizeof r->key, "kernel|%s", name);
    if (get_str(o, "check", &check)) return bad(w, err, errlen, "field check: expected a string");
    r->valid = check ? !strcmp(check, "pass") : get_num(o, "check_nmse", &nmse) == 1 && nmse <= 1e-8;
    return 0;
}

static int valid_labels(const char *s) {
    for (; *s; s++)
        if (!strchr("tnue", *s)) return 0;
    return 1;
}

static int model_row(const cJSON *o, const char *kind, const where *w, bench_cmp_row *r, char *err, size_t errlen) {
    const char *test, *model, *type = NULL, *check, *mcheck, *sha = NULL, *prompt = NULL, *mode = NULL,
               *labels = NULL;
    double layers = 0, avg;
    if (get_str(o, "test", &test) || !test) return bad(w, err, errlen, "field test: expected a string");
    if (get_str(o, "model_name", &model) || get_num(o, "model_layers", &layers) < 0)
        return bad(w, err, errlen, "fields model_name, model_layers: expected a string and a number");
    if (get_str(o, "model_type", &type)) return bad(w, err, errlen, "field model_type: expected a string");
    int s = get_samples(o, "samples_ts", 0, 1, r);
    if (s < 0) return bad(w, err, errlen, "field samples_ts: expected 1 .. 100 positive numbers");
    if (s == 0) {
        if (get_num(o, "avg_ts", &avg) != 1 || !(avg > 0))
            return bad(w, err, errlen, "fields samples_ts and avg_ts: expected the test's tokens/s");
        r->samples[0] = avg, r->n = 1;
    }
    int judge = !strcmp(kind, "judge");
    if (judge && (get_str(o, "judge_dataset_sha256", &sha) || get_str(o, "judge_prompt", &prompt) ||
                  get_str(o, "judge_mode", &mode) || get_str(o, "judge_labels", &labels)))
        return bad(w, err, errlen, "judge fields: expected strings");
    if (labels && !valid_labels(labels))
        return bad(w, err, errlen, "field judge_labels: expected the letters t, n, u and e");
    if (get_str(o, "check", &check) || get_str(o, "model_check", &mcheck))
        return bad(w, err, errlen, "fields check, model_check: expected strings");
    r->items_per_s = NAN;
    if (judge && get_num(o, "items_per_s", &r->items_per_s) < 0)
        return bad(w, err, errlen, "field items_per_s: expected a number");
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->test, sizeof r->test, "%s", test);
    /* the weight types are part of what was measured: f16 and q4_0 rows are different lines */
    char what[96] = "";
    if (layers > 0) snprintf(what, sizeof what, "%d layers", (int)layers);
    if (type && *type) snprintf(what + strlen(what), sizeof what - strlen(what), "%s%.60s", *what ? ", " : "", type);
    if (*what) snprintf(r->model, sizeof r->model, "%.150s (%s)", model ? model : "?", what);
    else snprintf(r->model, sizeof r->model, "%.150s", model ? model : "?");
    snprintf(r->unit, sizeof r->unit, "t/s");
    snprintf(r->key, sizeof r->key, "%s|%s|%s|%.70s|%.20s|%.16s", kind, r->test, r->model, sha ? sha : "",
             prompt ? prompt : "", mode ? mode : "");
    r->valid = !(check && strcmp(check, "pass")) && !(mcheck && !strcmp(mcheck, "fail"));
    if (labels && !(r->labels = strdup(labels))) return bad(w, err, errlen, "out of memory");
    return 0;
}

static int parse_row(const cJSON *o, const where *w, bench_cmp_file *f, char *err, size_t errlen) {
    if (!cJSON_IsObject(o)) return bad(w, err, errlen, "expected a JSON object (a bench row)");
    double schema = 0;
    int has = get_num(o, "schema_version", &schema);
    if (has < 0 || schema < 0 || schema != floor(schema))
        return bad(w, err, errlen, "field schema_version: expected an integer >= 0");
    if (schema > BENCH_SCHEMA_VERSION) {
        char msg[160];
        snprintf(msg, sizeof msg, "schema_version %.0f: written by a newer phi3vk (this one reads up to %d)", schema,
                 BENCH_SCHEMA_VERSION);
        return bad(w, err, errlen, msg);
    }
    if (f->n == BENCH_CMP_MAX_ROWS) return bad(w, err, errlen, "more rows than bench-compare reads (4096)");
    const char *kind, *kernel;
    if (get_str(o, "kind", &kind) || get_str(o, "kernel", &kernel))
        return bad(w, err, errlen, "fields kind, kernel: expected strings");
    if (!kind) kind = kernel ? "kernel" : "model";
    if (strcmp(kind, "model") && strcmp(kind, "judge") && strcmp(kind, "kernel"))
        return bad(w, err, errlen, "field kind: expected model, judge or kernel");
    bench_cmp_row *rows = realloc(f->rows, (size_t)(f->n + 1) * sizeof *rows);
    if (!rows) return bad(w, err, errlen, "out of memory");
    f->rows = rows;
    bench_cmp_row *r = &rows[f->n];
    memset(r, 0, sizeof *r);
    int rc = !strcmp(kind, "kernel") ? kernel_row(o, w, r, err, errlen) : model_row(o, kind, w, r, err, errlen);
    if (rc) {
        free(r->labels);
        return -1;
    }
    bench_mean_sd(r->samples, r->n, &r->mean, &r->sd);
    if (f->n++ == 0) { /* the file's label: device, driver, commit */
        const char *dev, *drv, *ver, *commit;
        if (get_str(o, "device_name", &dev) || get_str(o, "driver_info", &drv) ||
            get_str(o, "driver_version", &ver) || get_str(o, "phi3vk_commit", &commit))
            return bad(w, err, errlen, "fields device_name, driver_info, driver_version, phi3vk_commit: expected "
                                       "strings");
        f->schema = (int)schema;
        snprintf(f->label, sizeof f->label, "%.120s (%.80s %.24s), phi3vk %.40s", dev ? dev : "?",
                 drv && *drv ? drv : "driver", ver ? ver : "", commit ? commit : "?");
    }
    return 0;
}

int bench_cmp_parse(const char *text, size_t len, const char *name, bench_cmp_file *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    where w = {.name = out->name};
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i])) i++;
    if (i < len && text[i] == '[') { /* -o json: one array */
        cJSON *a = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsArray(a)) {
            cJSON_Delete(a);
            snprintf(err, errlen, "%s: not valid JSON (expected an array of bench rows, or JSON lines)", name);
            return -1;
        }
        int rc = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, a) {
            w.row++;
            if ((rc = parse_row(o, &w, out, err, errlen))) break;
        }
        cJSON_Delete(a);
        if (rc) return -1;
    } else { /* -o jsonl: an object per line */
        for (size_t p = 0; p < len;) {
            const char *nl = memchr(text + p, '\n', len - p);
            size_t end = nl ? (size_t)(nl - text) : len;
            w.line++;
            size_t q = p;
            while (q < end && strchr(" \t\r", text[q])) q++;
            if (q < end) {
                cJSON *o = cJSON_ParseWithLength(text + p, end - p);
                if (!o) return bad(&w, err, errlen, "not valid JSON (expected one bench row per line)");
                int rc = parse_row(o, &w, out, err, errlen);
                cJSON_Delete(o);
                if (rc) return -1;
            }
            p = end + 1;
        }
    }
    if (out->n == 0) {
        snprintf(err, errlen, "%s: no bench rows (expected the output of phi3vk bench -o jsonl or -o json)", name);
        return -1;
    }
    return 0;
}

void bench_cmp_file_free(bench_cmp_file *f) {
    for (int i = 0; f->rows && i < f->n; i++) free(f->rows[i].labels);
    free(f->rows);
    f->rows = NULL, f->n = 0;
}

/* ---- lining up ---- */

static int find_line(const bench_cmp *c, const char *key) {
    for (int i = 0; i < c->n_lines; i++)
        for (int f = 0; f < c->n_files; f++)
            if (c->lines[i].row[f]) {
                if (!strcmp(c->lines[i].row[f]->key, key)) return i;
                break;
            }
    return -1;
}

static void line_stats(bench_cmp *c, bench_cmp_line *l) {
    const bench_cmp_row *a = l->row[0];
    for (int f = 0; f < c->n_files; f++) {
        const bench_cmp_row *b = l->row[f];
        l->ratio[f] = l->p[f] = NAN;
        l->labels_agree[f] = -1;
        if (!a || !b) continue;
        double t, df;
        l->ratio[f] = b->mean / a->mean;
        l->p[f] = bench_welch_p(a->samples, a->n, b->samples, b->n, &t, &df);
        if (a->labels && b->labels && strlen(a->labels) == strlen(b->labels)) {
            int agree = 0;
            for (size_t k = 0; a->labels[k]; k++) agree += a->labels[k] == b->labels[k];
            l->labels_agree[f] = agree;
        }
    }
}

int bench_cmp_make(const bench_cmp_file *files, int n, double alpha, bench_cmp *cmp, char *err, size_t errlen) {
    memset(cmp, 0, sizeof *cmp);
    cmp->files = files, cmp->n_files = n, cmp->alpha = alpha;
    if (n < 1 || n > BENCH_CMP_MAX_FILES) {
        snprintf(err, errlen, "expected 1 .. %d files, found %d", BENCH_CMP_MAX_FILES, n);
        return -1;
    }
    for (int f = 0; f < n; f++)
        for (int k = 0; k < files[f].n; k++) {
            const bench_cmp_row *r = &files[f].rows[k];
            int i = find_line(cmp, r->key);
            if (i >= 0 && cmp->lines[i].row[f]) i = -1; /* the same test twice in one file: a line of its own */
            if (i < 0) {
                bench_cmp_line *lines = realloc(cmp->lines, (size_t)(cmp->n_lines + 1) * sizeof *lines);
                if (!lines) {
                    snprintf(err, errlen, "out of memory");
                    bench_cmp_free(cmp);
                    return -1;
                }
                cmp->lines = lines;
                i = cmp->n_lines++;
                memset(&cmp->lines[i], 0, sizeof cmp->lines[i]);
            }
            cmp->lines[i].row[f] = r;
        }
    for (int i = 0; i < cmp->n_lines; i++) line_stats(cmp, &cmp->lines[i]);
    return 0;
}

void bench_cmp_free(bench_cmp *cmp) {
    free(cmp->lines);
    cmp->lines = NULL, cmp->n_lines = 0;
}

const char *bench_cmp_verdict(const bench_cmp *cmp, const bench_cmp_line *l, int i) {
    if (i == 0 || !l->row[0] || !l->row[i]) return "";
    if (isnan(l->p[i])) return "1 sample: spread unknown";
    if (!(l->p[i] < cmp->alpha)) return "within noise";
    return l->ratio[i] > 1 ? "faster" : "slower";
}
