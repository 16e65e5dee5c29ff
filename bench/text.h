/* Text output shared by every bench report (model, judge, kernels,
 * compare): a growing string, RFC 4180 CSV cells, and one writer that
 * turns a list of named fields per row into CSV, JSON or JSON Lines, so a
 * row carries the same fields under the same names in every format.
 *
 *   static int field(const void *ctx, const void *row, int i, bench_field *f) {
 *       switch (i) { case 0: *f = bench_str("test", r->test); return 1; ... }
 *       return 0;                         // past the last field
 *   }
 *   char *csv = bench_rows_format(BENCH_FMT_CSV, field, ctx, rows, sizeof rows[0], n);
 *
 * Numbers are written with 6 significant digits (integers exactly); a NaN
 * or infinity is JSON null and an empty CSV cell ("not applicable"). */
#ifndef PHI3VK_BENCH_TEXT_H
#define PHI3VK_BENCH_TEXT_H
#include <stddef.h>

typedef struct cJSON cJSON;

/* Output formats of every bench report. */
typedef enum bench_format { BENCH_FMT_MD, BENCH_FMT_CSV, BENCH_FMT_JSON, BENCH_FMT_JSONL } bench_format;

/* Parses "md", "csv", "json" or "jsonl". Returns 0, or -1 for anything else. */
int bench_format_parse(const char *name, bench_format *out);

/* A growing NUL-terminated string; zero-initialise. */
typedef struct bench_sb {
    char *p;
    size_t len, cap;
    int oom;             /* an allocation failed: the text is lost */
} bench_sb;

void bench_sb_printf(bench_sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A CSV cell: quoted when it holds a comma, quote or line break. */
void bench_sb_csv(bench_sb *b, const char *s);
/* The text (caller frees), "" when empty, NULL when out of memory. */
char *bench_sb_done(bench_sb *b);

typedef enum bench_field_kind {
    BENCH_F_STR,     /* s (NULL: null) */
    BENCH_F_INT,     /* v, an integer */
    BENCH_F_NUM,     /* v, 6 significant digits */
    BENCH_F_NUMS,    /* a[0, n): numbers; CSV joins them with ';' */
    BENCH_F_INTS,    /* a[0, n): integers (nanoseconds); CSV joins them with ';' */
    BENCH_F_OBJECT,  /* json(ctx, row) in JSON (NULL: null); csv(b, ctx, row) writes its CSV cell */
} bench_field_kind;

typedef struct bench_field {
    const char *name;
    bench_field_kind kind;
    const char *s;
    double v;
    const double *a;
    int n;
    cJSON *(*json)(const void *ctx, const void *row);
    void (*csv)(bench_sb *b, const void *ctx, const void *row);
} bench_field;

static inline bench_field bench_str(const char *name, const char *s) {
    return (bench_field){.name = name, .kind = BENCH_F_STR, .s = s};
}
static inline bench_field bench_int(const char *name, double v) {
    return (bench_field){.name = name, .kind = BENCH_F_INT, .v = v};
}
static inline bench_field bench_num(const char *name, double v) {
    return (bench_field){.name = name, .kind = BENCH_F_NUM, .v = v};
}

/* Field i (0, 1, ...) of row: fills *f and returns 1, or returns 0 past the
 * last field. Every row has the same fields in the same order. */
typedef int (*bench_field_fn)(const void *ctx, const void *row, int i, bench_field *f);

/* rows[0, n) (row_size bytes apart) as CSV (a header line, then a line per
 * row), JSON (one array of objects) or JSON Lines (an object per line).
 * Malloc'd; NULL when out of memory or for BENCH_FMT_MD. */
char *bench_rows_format(bench_format fmt, bench_field_fn fn, const void *ctx, const void *rows, size_t row_size,
                        int n);

/* x rounded to 6 significant digits (what the text shows). */
double bench_round6(double x);

#endif
