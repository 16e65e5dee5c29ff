/* Fuzz target: a bench output file as `phi3vk bench-compare` reads it
 * (bench_cmp_parse: JSON array or JSON lines of model, judge and kernel
 * rows), lined up against itself, formatted in every format and plotted.
 * Invariants (abort): an accepted file has 1 .. BENCH_CMP_MAX_ROWS rows,
 * each with 1 .. BENCH_MAX_REPS positive finite samples and a finite mean;
 * a refused one says which file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char svg[64];
    if (!svg[0]) snprintf(svg, sizeof svg, "/tmp/fuzz_bench_compare.%ld.svg", (long)getpid());
    char err[1024] = "";
    bench_cmp_file f[2];
    int rc = bench_cmp_parse((const char *)data, size, "fuzz.jsonl", &f[0], err, sizeof err);
    if (rc) {
        if (!strstr(err, "fuzz.jsonl")) abort();
        bench_cmp_file_free(&f[0]);
        return 0;
    }
    if (f[0].n < 1 || f[0].n > BENCH_CMP_MAX_ROWS) abort();
    for (int i = 0; i < f[0].n; i++) {
        const bench_cmp_row *r = &f[0].rows[i];
        if (r->n < 1 || r->n > BENCH_MAX_REPS || !isfinite(r->mean)) abort();
        for (int k = 0; k < r->n; k++)
            if (!(r->samples[k] > 0) || !isfinite(r->samples[k])) abort();
    }
    f[1] = f[0]; /* the same rows as a second file: every line has two rows */
    bench_cmp cmp;
    if (bench_cmp_make(f, 2, 0.05, &cmp, err, sizeof err) == 0) {
        for (int fmt = BENCH_FMT_MD; fmt <= BENCH_FMT_JSONL; fmt++) free(bench_cmp_format(&cmp, (bench_format)fmt));
        bench_cmp_plot_svg(&cmp, svg, err, sizeof err);
        unlink(svg);
        bench_cmp_free(&cmp);
    }
    bench_cmp_file_free(&f[0]);
    return 0;
}
