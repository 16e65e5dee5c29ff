/* bench-compare: rows of the same test from different bench output files
 * (devices, commits, drivers) side by side, with ratios to the first file
 * and a statement of whether the difference is larger than the spread of
 * the samples explains (Welch's t-test, bench/stats.h).
 *
 *   bench_cmp_file f[2];
 *   bench_cmp_parse(text_a, len_a, "a.jsonl", &f[0], err, sizeof err);
 *   bench_cmp_parse(text_b, len_b, "b.jsonl", &f[1], err, sizeof err);
 *   bench_cmp cmp;
 *   bench_cmp_make(f, 2, 0.05, &cmp, err, sizeof err);
 *   char *md = bench_cmp_format(&cmp, BENCH_FMT_MD);
 *   bench_cmp_plot_svg(&cmp, "out.svg", err, sizeof err);
 *
 * Files: what `phi3vk bench`, `bench --judge` and `bench --kernels` write
 * with -o json (one array) or -o jsonl (an object per line), of this or an
 * older schema (rows without schema_version are schema 0). Rows line up by
 * kind and test, and by model and layers (model rows), model, prompt, mode
 * and item set (judge rows), or kernel and shape (kernel rows). Compared:
 * tokens/s (model rows: samples_ts), prompt tokens/s (judge rows, with
 * items/s beside it), GFLOP/s (kernel rows, from samples_ms; equal to GB/s
 * of weights at one token). */
#ifndef PHI3VK_BENCH_COMPARE_H
#define PHI3VK_BENCH_COMPARE_H
#include <stddef.h>

#include "bench/bench.h"

#define BENCH_CMP_MAX_FILES 16
#define BENCH_CMP_MAX_ROWS 4096     /* rows per file */
#define BENCH_CMP_MAX_BYTES (64u << 20) /* largest file read */

/* One row of a file, reduced to what is compared. */
typedef struct bench_cmp_row {
    char kind[8];                  /* "model", "judge" or "kernel" */
    char test[64];                 /* the test, or the kernel's name */
    char model[256];               /* model_name (+ layers, weight types), or "" for kernels */
    char key[512];                 /* kind, test, model and what else must match */
    char unit[12];                 /* "t/s", "GFLOP/s" */
    double samples[BENCH_MAX_REPS];
    int n;                         /* samples (1 when the row has only a mean) */
    double mean, sd;
    double items_per_s;            /* judge rows; NaN otherwise */
    int valid;                     /* 0 when a check in the row failed */
    char *labels;                  /* judge rows: judge_labels (malloc'd) or NULL */
} bench_cmp_row;

typedef struct bench_cmp_file {
    char name[256];                /* as given */
    char label[384];               /* "device (driver version), phi3vk commit": from the first row */
    int schema;                    /* the rows' schema_version (0: none) */
    bench_cmp_row *rows;
    int n;
} bench_cmp_file;

/* Parses one file's text (JSON array or JSON lines). Returns 0, or -1 with
 * err naming name, the line (JSON lines) or row and the field: bad JSON, a
 * row without test/kernel or samples, a field of the wrong type, numbers
 * that are not finite and positive, more than BENCH_MAX_REPS samples or
 * BENCH_CMP_MAX_ROWS rows, a schema newer than this phi3vk reads, or no
 * rows at all. bench_cmp_file_free it in any case. */
int bench_cmp_parse(const char *text, size_t len, const char *name, bench_cmp_file *out, char *err, size_t errlen);
void bench_cmp_file_free(bench_cmp_file *f);

/* One line of the comparison: a key, and that row in each file (or none). */
typedef struct bench_cmp_line {
    const bench_cmp_row *row[BENCH_CMP_MAX_FILES]; /* NULL where the file has no such row */
    double ratio[BENCH_CMP_MAX_FILES];  /* mean / the first file's mean (NaN when either is missing) */
    double p[BENCH_CMP_MAX_FILES];      /* Welch's p against the first file (NaN: fewer than 2 samples) */
    int labels_agree[BENCH_CMP_MAX_FILES]; /* judge: items whose labels equal the first file's; -1: n/a */
} bench_cmp_line;

typedef struct bench_cmp {
    const bench_cmp_file *files;   /* not owned */
    int n_files;
    double alpha;                  /* significance level: p < alpha is a real difference */
    bench_cmp_line *lines;         /* in the first appearance order over the files */
    int n_lines;
} bench_cmp;

/* Lines up the rows of files[0, n) (1 .. BENCH_CMP_MAX_FILES). The files
 * must outlive cmp. Returns 0, or -1 with err (out of memory). */
int bench_cmp_make(const bench_cmp_file *files, int n, double alpha, bench_cmp *cmp, char *err, size_t errlen);
void bench_cmp_free(bench_cmp *cmp);

/* The verdict of file i against the first on line l: "faster", "slower",
 * "within noise", "1 sample: spread unknown", "" (i == 0 or a row missing). */
const char *bench_cmp_verdict(const bench_cmp *cmp, const bench_cmp_line *l, int i);

/* The comparison as text (malloc'd; NULL when out of memory): md a legend
 * of the files, then one table row per line (mean +- sd (n) per file, and
 * per file after the first the ratio and the verdict with p); csv, json,
 * jsonl one record per line and file after the first (with schema_version),
 * or per line and file when there is one file. */
char *bench_cmp_format(const bench_cmp *cmp, bench_format fmt);

/* Writes an SVG chart to path: per line a group of horizontal bars, one per
 * file (colours in the legend), length = mean (scaled per line, so tests of
 * different speeds share the chart), whiskers = +- sd, the value written
 * beside it, invalid rows hatched. Returns 0, or -1 with err naming path. */
int bench_cmp_plot_svg(const bench_cmp *cmp, const char *path, char *err, size_t errlen);

#endif
