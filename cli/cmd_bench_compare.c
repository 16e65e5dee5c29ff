/* phi3vk bench-compare: rows of the same tests from several bench output
 * files side by side, with ratios, significance and an optional SVG chart
 * (bench/compare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/compare.h"
#include "cli/cli.h"
#include "cli/common.h"

static const char *usage =
    "usage: phi3vk bench-compare A.jsonl [B.jsonl ...] [-o md|csv|json|jsonl] [--plot out.svg] [--alpha P]\n"
    "\n"
    "Lines up the rows of the same test from files written by phi3vk bench, bench --judge or\n"
    "bench --kernels (-o jsonl or -o json; '-' reads standard input) - other devices, commits,\n"
    "drivers - and prints each file's mean +- sd (samples) per test and, for every file after\n"
    "the first, the ratio to the first (A) with a verdict from Welch's t-test on the samples:\n"
    "faster / slower (p < alpha), within noise (the spread of the samples makes the difference\n"
    "meaningless), or 1 sample: spread unknown. Rows line up by kind and test, and by model and\n"
    "layers (bench), model, prompt, mode and item set (bench --judge; their labels are compared\n"
    "too), or kernel and shape (bench --kernels). Rows whose correctness check failed are\n"
    "marked INVALID.\n"
    "\n"
    "  -o, --output FMT   md (default), csv, json or jsonl: one record per test and file after the\n"
    "                     first (per test and file with one file), with schema_version\n"
    "  --plot FILE.svg    also draw the means with +- sd whiskers, per test and file, as SVG\n"
    "  --alpha P          the significance level (default 0.05)\n"
    "\n"
    "Compared: tokens/s (bench), prompt tokens/s (bench --judge), GFLOP/s (bench --kernels).\n"
    "Exit status: 0, 1 on an error (a file that is not bench output names the line and field),\n"
    "2 on a usage error.\n";

/* Reads path ('-': standard input) into memory, at most BENCH_CMP_MAX_BYTES. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("bench-compare", "%s: cannot open the file", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t k = 1; buf && k > 0;) {
        if (n == cap) {
            char *b = cap >= BENCH_CMP_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!b) {
                cli_error("bench-compare", "%s: larger than %u MiB (or out of memory)", path, BENCH_CMP_MAX_BYTES >> 20);
                free(buf), buf = NULL;
                break;
            }
            buf = b, cap *= 2;
        }
        n += k = fread(buf + n, 1, cap - n, f);
    }
    if (buf && ferror(f)) {
        cli_error("bench-compare", "%s: read error", path);
        free(buf), buf = NULL;
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

int cmd_bench_compare(int argc, char **argv) {
    const char *cmd = "bench-compare", *plot = NULL, *paths[BENCH_CMP_MAX_FILES];
    bench_format fmt = BENCH_FMT_MD;
    double alpha = 0.05;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        } else if (cli_opt(cmd, argc, argv, &i, "-o", &v) || cli_opt(cmd, argc, argv, &i, "--output", &v)) {
            if (!v) return 2;
            if (bench_format_parse(v, &fmt)) {
                cli_error(cmd, "-o: expected md, csv, json or jsonl, found '%s'", v);
                return 2;
            }
        } else if (cli_opt(cmd, argc, argv, &i, "--plot", &v)) {
            if (!v) return 2;
            plot = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--alpha", &v)) {
            if (!v || cli_parse_double(cmd, "--alpha", v, 1e-9, 0.5, &alpha)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return 2;
        } else if (n == BENCH_CMP_MAX_FILES) {
            cli_error(cmd, "at most %d files", BENCH_CMP_MAX_FILES);
            return 2;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n == 0) {
        cli_error(cmd, "give at least one file written by phi3vk bench -o jsonl (see --help)");
        return 2;
    }
    bench_cmp_file files[BENCH_CMP_MAX_FILES];
    bench_cmp cmp = {0};
    char err[1024];
    int rc = 1, loaded = 0;
    for (; loaded < n; loaded++) {
        size_t len;
        char *text = read_file(paths[loaded], &len);
        if (!text) goto done;
        int bad = bench_cmp_parse(text, len, paths[loaded], &files[loaded], err, sizeof err);
        free(text);
        if (bad) {
            cli_error(cmd, "%s", err);
            loaded++;
            goto done;
        }
    }
    if (bench_cmp_make(files, n, alpha, &cmp, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    char *out = bench_cmp_format(&cmp, fmt);
    if (!out) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    fputs(out, stdout);
    free(out);
    if (plot && bench_cmp_plot_svg(&cmp, plot, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    rc = 0;
done:
    bench_cmp_free(&cmp);
    for (int i = 0; i < loaded; i++) bench_cmp_file_free(&files[i]);
    return rc;
}
