/* util_par_ranges: one pthread per part, joined before returning. */
#include "util/par.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct part_job {
    util_range_fn fn;
    void *ctx;
    int part;
    uint64_t lo, hi;
    pthread_t tid;
    int started;
    char err[1024];
} part_job;

static void *part_main(void *arg) {
    part_job *j = arg;
    j->fn(j->ctx, j->part, j->lo, j->hi, j->err, sizeof j->err);
    return NULL;
}

int util_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > UTIL_PAR_MAX ? UTIL_PAR_MAX : (int)n;
}

int util_par_ranges(int parts, uint64_t n, util_range_fn fn, void *ctx, char *err, size_t errlen) {
    if (n == 0) return 0;
    int t = parts < 1 ? 1 : parts > UTIL_PAR_MAX ? UTIL_PAR_MAX : parts;
    if ((uint64_t)t > n) t = (int)n;
    part_job *jobs = t > 1 ? calloc((size_t)t, sizeof *jobs) : NULL;
    if (!jobs) { /* one part, or no memory for the others: all of it here */
        if (errlen) err[0] = '\0';
        fn(ctx, 0, 0, n, err, errlen);
        return errlen && err[0] ? -1 : 0;
    }
    for (int i = 0; i < t; i++) {
        jobs[i] = (part_job){.fn = fn, .ctx = ctx, .part = i, .lo = n * (uint64_t)i / (uint64_t)t,
                             .hi = n * (uint64_t)(i + 1) / (uint64_t)t};
        jobs[i].started = i > 0 && pthread_create(&jobs[i].tid, NULL, part_main, &jobs[i]) == 0;
    }
    for (int i = 0; i < t; i++)
        if (!jobs[i].started) part_main(&jobs[i]);
    for (int i = 0; i < t; i++)
        if (jobs[i].started) pthread_join(jobs[i].tid, NULL);
    int rc = 0;
    for (int i = 0; i < t && !rc; i++)
        if (jobs[i].err[0]) {
            snprintf(err, errlen, "%s", jobs[i].err);
            rc = -1;
        }
    free(jobs);
    return rc;
}
