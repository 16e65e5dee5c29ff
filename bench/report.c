/* bench_report_format: the rows as Markdown, CSV, JSON or JSON Lines.
 * CSV and JSON share one field list (row_fields), so they always carry the
 * same fields under the same names. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

int bench_format_parse(const char *name, bench_format *out) {
    static const char *const names[] = {"md", "csv", "json", "jsonl"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (bench_format)i;
            return 0;
        }
    return -1;
}

/* ---- a growing string ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *sb_done(sbuf *b) {
    if (b->oom || !b->p) {
        free(b->p);
        return b->oom ? NULL : calloc(1, 1);
    }
    return b->p;
}

/* ---- the shared field list ---- */

typedef enum { F_STR, F_INT, F_NUM, F_BOOL, F_SAMPLES, F_PROFILE } field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    const char *s;  /* F_STR */
    double v;       /* F_INT, F_NUM, F_BOOL */
} field;

enum { N_FIELDS = 36 };

/* Field i of row; the order is the CSV column order. */
static field row_field(const bench_report *r, const bench_row *w, int i) {
    const vkr_device_info *d = &w->dev;
    switch (i) {
    case 0: return (field){"phi3vk_version", F_STR, r->version, 0};
    case 1: return (field){"phi3vk_commit", F_STR, r->commit, 0};
    case 2: return (field){"date", F_STR, w->date, 0};
    case 3: return (field){"device_index", F_INT, NULL, d->index};
    case 4: return (field){"device_name", F_STR, d->name, 0};
    case 5: return (field){"device_vendor", F_STR, d->vendor, 0};
    case 6: return (field){"device_type", F_STR, d->type, 0};
    case 7: return (field){"driver_name", F_STR, d->driver_name, 0};
    case 8: return (field){"driver_info", F_STR, d->driver_info, 0};
    case 9: return (field){"driver_version", F_STR, w->driver_version, 0};
    case 10: return (field){"vulkan_api", F_STR, w->vulkan_api, 0};
    case 11: return (field){"device_profile", F_STR, w->device_profile, 0};
    case 12: return (field){"subgroup_size", F_INT, NULL, d->subgroup_size};
    case 13: return (field){"model_name", F_STR, w->model, 0};
    case 14: return (field){"model_params", F_INT, NULL, (double)w->model_params};
    case 15: return (field){"model_bytes", F_INT, NULL, (double)w->model_bytes};
    case 16: return (field){"model_type", F_STR, w->model_type, 0};
    case 17: return (field){"model_layers", F_INT, NULL, w->model_layers};
    case 18: return (field){"test", F_STR, w->test, 0};
    case 19: return (field){"n_prompt", F_INT, NULL, w->n_prompt};
    case 20: return (field){"n_gen", F_INT, NULL, w->n_gen};
    case 21: return (field){"n_depth", F_INT, NULL, w->depth};
    case 22: return (field){"repetitions", F_INT, NULL, w->reps};
    case 23: return (field){"avg_ts", F_NUM, NULL, w->mean};
    case 24: return (field){"stddev_ts", F_NUM, NULL, w->sd};
    case 25: return (field){"samples_ts", F_SAMPLES, NULL, 0};
    case 26: return (field){"device_memory_bytes", F_INT, NULL, (double)w->device_bytes};
    case 27: return (field){"host_peak_rss_bytes", F_INT, NULL, (double)w->host_rss_bytes};
    case 28: return (field){"check", F_STR, w->check.pass ? "pass" : "fail", 0};
    case 29: return (field){"check_nmse", F_NUM, NULL, w->check.nmse};
    case 30: return (field){"check_ids_match", F_INT, NULL, w->check.ids_match};
    case 31: return (field){"check_ids", F_INT, NULL, ENG_CHECK_IDS};
    case 32: return (field){"check_message", F_STR, w->check.message, 0};
    case 33: return (field){"kernel_fallbacks", F_STR, w->fallbacks, 0};
    case 35: return (field){"model_bytes_per_weight", F_NUM, NULL, w->model_params ? (double)w->model_bytes / w->model_params : 0};
    default: return (field){"profile", F_PROFILE, NULL, 0};
    }
}

/* ---- JSON ---- */

static cJSON *profile_json(const bench_row *w) {
    if (!w->has_profile) return cJSON_CreateNull();
    const bench_profile *p = &w->profile;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens", p->tokens);
    cJSON_AddNumberToObject(o, "op_ms", p->op_ms);
    cJSON_AddNumberToObject(o, "wall_ms", p->wall_ms);
    cJSON *ops = cJSON_AddArrayToObject(o, "ops");
    for (int i = 0; i < p->n_ops; i++) {
        const bench_op *op = &p->ops[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "op", op->op);
        cJSON_AddNumberToObject(e, "calls", op->calls);
        cJSON_AddNumberToObject(e, "ms", op->ms);
        cJSON_AddNumberToObject(e, "share", op->share);
        cJSON_AddNumberToObject(e, "gbps", op->gbps);
        cJSON_AddNumberToObject(e, "gflops", op->gflops);
        cJSON_AddItemToArray(ops, e);
    }
    return o;
}

static cJSON *row_json(const bench_report *r, const bench_row *w) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_FIELDS; i++) {
        field f = row_field(r, w, i);
        cJSON *v = NULL;
        switch (f.kind) {
        case F_STR: v = cJSON_CreateString(f.s); break;
        case F_INT:
        case F_NUM: v = isfinite(f.v) ? cJSON_CreateNumber(f.v) : cJSON_CreateNull(); break;
        case F_BOOL: v = cJSON_CreateBool(f.v != 0); break;
        case F_SAMPLES:
            v = cJSON_CreateArray();
            for (int k = 0; k < w->reps; k++) cJSON_AddItemToArray(v, cJSON_CreateNumber(w->samples[k]));
            break;
        case F_PROFILE: v = profile_json(w); break;
        }
        cJSON_AddItemToObject(o, f.name, v);
    }
    return o;
}

static char *format_json(const bench_report *r, int lines) {
    sbuf b = {0};
    if (!lines) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < r->n_rows; i++) cJSON_AddItemToArray(a, row_json(r, &r->rows[i]));
        char *s = cJSON_Print(a);
        cJSON_Delete(a);
        if (!s) return NULL;
        sb_printf(&b, "%s\n", s);
        free(s);
        return sb_done(&b);
    }
    for (int i = 0; i < r->n_rows; i++) {
        cJSON *o = row_json(r, &r->rows[i]);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!s) {
            free(b.p);
            return NULL;
        }
        sb_printf(&b, "%s\n", s);
        free(s);
    }
    return sb_done(&b);
}

/* ---- CSV ---- */

/* A CSV cell, quoted when it holds a comma, quote or line break. */
static void csv_str(sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"') sb_printf(b, "\"\"");
        else sb_printf(b, "%c", *s);
    }
    sb_printf(b, "\"");
}

static char *format_csv(const bench_report *r) {
    sbuf b = {0};
    bench_row empty = {0};
    for (int i = 0; i < N_FIELDS; i++) sb_printf(&b, "%s%s", i ? "," : "", row_field(r, &empty, i).name);
    sb_printf(&b, ",profile_op_ms,profile_wall_ms\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        for (int i = 0; i < N_FIELDS; i++) {
            field f = row_field(r, w, i);
            if (i) sb_printf(&b, ",");
            switch (f.kind) {
            case F_STR: csv_str(&b, f.s); break;
            case F_INT: sb_printf(&b, "%.0f", f.v); break;
            case F_NUM: sb_printf(&b, "%.6g", f.v); break;
            case F_BOOL: sb_printf(&b, "%s", f.v ? "true" : "false"); break;
            case F_SAMPLES:
                for (int s = 0; s < w->reps; s++) sb_printf(&b, "%s%.6g", s ? ";" : "", w->samples[s]);
                break;
            case F_PROFILE:
                for (int s = 0; w->has_profile && s < w->profile.n_ops; s++)
                    sb_printf(&b, "%s%s:%d:%.4f", s ? ";" : "", w->profile.ops[s].op, w->profile.ops[s].calls,
                              w->profile.ops[s].ms);
                break;
            }
        }
        if (w->has_profile) sb_printf(&b, ",%.4f,%.4f\n", w->profile.op_ms, w->profile.wall_ms);
        else sb_printf(&b, ",,\n");
    }
    return sb_done(&b);
}

/* ---- Markdown ---- */

static void md_bytes(sbuf *b, uint64_t n) {
    if (n >= (1ull << 30)) sb_printf(b, "%.2f GiB", n / 1073741824.0);
    else sb_printf(b, "%.1f MiB", n / 1048576.0);
}

static void md_profile(sbuf *b, const bench_row *w) {
    const bench_profile *p = &w->profile;
    sb_printf(b, "\nprofile of %s on %s (%s, %d token%s): ops %.2f ms, wall %.2f ms (%.1f%% outside the ops)\n\n",
              w->test, w->dev.name, w->n_prompt ? "one eval" : "one decode step", p->tokens, p->tokens == 1 ? "" : "s",
              p->op_ms, p->wall_ms, p->wall_ms > 0 ? 100 * (p->wall_ms - p->op_ms) / p->wall_ms : 0);
    sb_printf(b, "| op | calls | ms | share | GB/s | GFLOP/s |\n|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < p->n_ops; i++) {
        const bench_op *op = &p->ops[i];
        sb_printf(b, "| %s | %d | %.3f | %.1f%% | ", op->op, op->calls, op->ms, op->share);
        if (op->gbps > 0) sb_printf(b, "%.3g | %.3g |\n", op->gbps, op->gflops); /* prefill GB/s can be 0.02 */
        else sb_printf(b, "- | - |\n");
    }
}

static char *format_md(const bench_report *r) {
    sbuf b = {0};
    /* devices: one line per distinct device of the rows */
    sb_printf(&b, "| # | device | vendor | type | driver | version | driver info | Vulkan | profile | subgroup | check "
                  "| check nmse |\n|---:|---|---|---|---|---|---|---|---|---:|---|---:|\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        if (k > 0 && r->rows[k - 1].dev.index == w->dev.index && !strcmp(r->rows[k - 1].dev.name, w->dev.name)) continue;
        sb_printf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %u | %s%s%s | %.2e |\n", w->dev.index, w->dev.name,
                  w->dev.vendor, w->dev.type, w->dev.driver_name, w->driver_version, w->dev.driver_info, w->vulkan_api,
                  w->device_profile, w->dev.subgroup_size, w->check.pass ? "pass" : "**FAIL**",
                  w->check.pass ? "" : ": ", w->check.message, w->check.nmse);
    }
    sb_printf(&b, "\n| # | model | params | size | type | test | t/s | samples | device mem | peak RSS | check |\n"
                  "|---:|---|---:|---:|---|---|---:|---|---:|---:|---|\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        sb_printf(&b, "| %d | %s (%d layers) | ", w->dev.index, w->model, w->model_layers);
        if (w->model_params >= 1000000000u) sb_printf(&b, "%.2f B | ", w->model_params / 1e9);
        else sb_printf(&b, "%.1f M | ", w->model_params / 1e6);
        md_bytes(&b, w->model_bytes);
        sb_printf(&b, " | %s (%.2f B/w) | %s | %.2f ± %.2f | ", w->model_type,
                  w->model_params ? (double)w->model_bytes / w->model_params : 0.0, w->test, w->mean, w->sd);
        for (int s = 0; s < w->reps; s++) sb_printf(&b, "%s%.2f", s ? ", " : "", w->samples[s]);
        sb_printf(&b, " | ");
        md_bytes(&b, w->device_bytes);
        sb_printf(&b, " | ");
        md_bytes(&b, w->host_rss_bytes);
        sb_printf(&b, " | %s |\n", w->check.pass ? "pass" : "**FAIL**");
    }
    for (int k = 0; k < r->n_rows; k++)
        if (r->rows[k].has_profile) md_profile(&b, &r->rows[k]);
    sb_printf(&b, "\nphi3vk %s (%s), %s\n", r->version, r->commit, r->n_rows ? r->rows[0].date : "");
    return sb_done(&b);
}

char *bench_report_format(const bench_report *r, bench_format fmt) {
    switch (fmt) {
    case BENCH_FMT_MD: return format_md(r);
    case BENCH_FMT_CSV: return format_csv(r);
    case BENCH_FMT_JSON: return format_json(r, 0);
    case BENCH_FMT_JSONL: return format_json(r, 1);
    }
    return NULL;
}
