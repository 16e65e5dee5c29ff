/* The shared text writers of bench reports (see text.h). */
#include "bench/text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_format_parse(const char *name, bench_format *out) {
    static const char *const names[] = {"md", "csv", "json", "jsonl"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (bench_format)i;
            return 0;
        }
    return -1;
}

void bench_sb_printf(bench_sb *b, const char *fmt, ...) {
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

void bench_sb_csv(bench_sb *b, const char *s) {
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        bench_sb_printf(b, "%s", s);
        return;
    }
    bench_sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"') bench_sb_printf(b, "\"\"");
        else bench_sb_printf(b, "%c", *s);
    }
    bench_sb_printf(b, "\"");
}

char *bench_sb_done(bench_sb *b) {
    if (b->oom || !b->p) {
        free(b->p);
        return b->oom ? NULL : calloc(1, 1);
    }
    return b->p;
}

double bench_round6(double x) {
    if (!isfinite(x) || x == 0) return x;
    char s[32];
    snprintf(s, sizeof s, "%.6g", x);
    return strtod(s, NULL);
}

static cJSON *num_json(double v, int integer) {
    if (!isfinite(v)) return cJSON_CreateNull();
    return cJSON_CreateNumber(integer ? round(v) : bench_round6(v));
}

static cJSON *row_json(bench_field_fn fn, const void *ctx, const void *row) {
    cJSON *o = cJSON_CreateObject();
    bench_field f;
    for (int i = 0; o && fn(ctx, row, i, &f); i++) {
        cJSON *v = NULL;
        switch (f.kind) {
        case BENCH_F_STR: v = f.s ? cJSON_CreateString(f.s) : cJSON_CreateNull(); break;
        case BENCH_F_INT: v = num_json(f.v, 1); break;
        case BENCH_F_NUM: v = num_json(f.v, 0); break;
        case BENCH_F_NUMS:
        case BENCH_F_INTS:
            v = cJSON_CreateArray();
            for (int k = 0; v && k < f.n; k++) cJSON_AddItemToArray(v, num_json(f.a[k], f.kind == BENCH_F_INTS));
            break;
        case BENCH_F_OBJECT: v = f.json ? f.json(ctx, row) : NULL; break;
        }
        if (!v) v = cJSON_CreateNull();
        cJSON_AddItemToObject(o, f.name, v);
    }
    return o;
}

static void csv_num(bench_sb *b, double v, int integer) {
    if (isfinite(v)) bench_sb_printf(b, integer ? "%.0f" : "%.6g", v);
}

static void csv_row(bench_sb *b, bench_field_fn fn, const void *ctx, const void *row) {
    bench_field f;
    for (int i = 0; fn(ctx, row, i, &f); i++) {
        if (i) bench_sb_printf(b, ",");
        switch (f.kind) {
        case BENCH_F_STR: bench_sb_csv(b, f.s); break;
        case BENCH_F_INT: csv_num(b, f.v, 1); break;
        case BENCH_F_NUM: csv_num(b, f.v, 0); break;
        case BENCH_F_NUMS:
        case BENCH_F_INTS:
            for (int k = 0; k < f.n; k++) {
                if (k) bench_sb_printf(b, ";");
                csv_num(b, f.a[k], f.kind == BENCH_F_INTS);
            }
            break;
        case BENCH_F_OBJECT:
            if (f.csv) f.csv(b, ctx, row);
            break;
        }
    }
    bench_sb_printf(b, "\n");
}

char *bench_rows_format(bench_format fmt, bench_field_fn fn, const void *ctx, const void *rows, size_t row_size,
                        int n) {
    bench_sb b = {0};
    const char *base = rows;
    if (fmt == BENCH_FMT_CSV) {
        bench_field f;
        void *zero = calloc(1, row_size); /* the names, even without rows */
        if (!zero) return NULL;
        for (int i = 0; fn(ctx, zero, i, &f); i++) bench_sb_printf(&b, "%s%s", i ? "," : "", f.name);
        free(zero);
        bench_sb_printf(&b, "\n");
        for (int k = 0; k < n; k++) csv_row(&b, fn, ctx, base + (size_t)k * row_size);
        return bench_sb_done(&b);
    }
    if (fmt == BENCH_FMT_JSON) {
        cJSON *a = cJSON_CreateArray();
        for (int k = 0; a && k < n; k++) cJSON_AddItemToArray(a, row_json(fn, ctx, base + (size_t)k * row_size));
        char *s = a ? cJSON_Print(a) : NULL;
        cJSON_Delete(a);
        if (!s) return NULL;
        bench_sb_printf(&b, "%s\n", s);
        free(s);
        return bench_sb_done(&b);
    }
    if (fmt != BENCH_FMT_JSONL) return NULL;
    for (int k = 0; k < n; k++) {
        cJSON *o = row_json(fn, ctx, base + (size_t)k * row_size);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!s) {
            free(b.p);
            return NULL;
        }
        bench_sb_printf(&b, "%s\n", s);
        free(s);
    }
    return bench_sb_done(&b);
}
