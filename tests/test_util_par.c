/* util_par_ranges: every index of the range runs exactly once, in parts of
 * consecutive indices numbered in order, at most `parts` of them (and never
 * more than there are indices), really at once (each part its own thread,
 * or the loader's conversion gains nothing), and the error returned is the
 * first failing part's in range order. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "util/par.h"

#define N_MAX 1000

typedef struct seen {
    int hits[N_MAX];
    uint64_t lo[UTIL_PAR_MAX], hi[UTIL_PAR_MAX];
    int calls[UTIL_PAR_MAX];
    pthread_t self[UTIL_PAR_MAX];
    int fail_from; /* parts >= this one report an error (-1: none) */
} seen;

static void mark(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen) {
    seen *s = ctx;
    s->lo[part] = lo, s->hi[part] = hi, s->self[part] = pthread_self();
    __atomic_add_fetch(&s->calls[part], 1, __ATOMIC_RELAXED);
    for (uint64_t i = lo; i < hi; i++) __atomic_add_fetch(&s->hits[i], 1, __ATOMIC_RELAXED);
    if (s->fail_from >= 0 && part >= s->fail_from) snprintf(err, errlen, "part %d failed", part);
}

static void check_split(int parts, uint64_t n) {
    static seen s;
    memset(&s, 0, sizeof s);
    s.fail_from = -1;
    char err[64] = "x";
    int rc = util_par_ranges(parts, n, mark, &s, err, sizeof err);
    int want = parts < 1 ? 1 : parts > UTIL_PAR_MAX ? UTIL_PAR_MAX : parts;
    if ((uint64_t)want > n) want = (int)n;
    CHECK(rc == 0, "parts %d, n %llu: rc %d (%s)", parts, (unsigned long long)n, rc, err);
    int once = 1, order = 1, distinct = 1;
    for (uint64_t i = 0; i < n; i++) once &= s.hits[i] == 1;
    for (int p = 0; p < UTIL_PAR_MAX; p++) {
        if (p >= want) {
            once &= s.calls[p] == 0;
            continue;
        }
        once &= s.calls[p] == 1;
        order &= s.lo[p] == (p ? s.hi[p - 1] : 0) && s.hi[p] > s.lo[p];
        for (int q = 0; q < p; q++) distinct &= !pthread_equal(s.self[p], s.self[q]);
    }
    if (want > 0) order &= s.hi[want - 1] == n;
    CHECK(once, "parts %d, n %llu: an index or part ran other than once", parts, (unsigned long long)n);
    CHECK(order, "parts %d, n %llu: parts are not consecutive ranges covering [0, n) in order", parts,
          (unsigned long long)n);
    CHECK(distinct, "parts %d, n %llu: two parts ran on one thread", parts, (unsigned long long)n);
    CHECK(pthread_equal(s.self[0], pthread_self()) || n == 0, "part 0 runs on the caller's thread");
}

int main(void) {
    CHECK(util_cpu_count() >= 1 && util_cpu_count() <= UTIL_PAR_MAX, "cpu count %d", util_cpu_count());
    int parts[] = {1, 2, 3, 7, 16, UTIL_PAR_MAX, UTIL_PAR_MAX + 5, 0, -3};
    uint64_t ns[] = {1, 2, 5, 63, 64, 999};
    for (size_t a = 0; a < sizeof parts / sizeof parts[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) check_split(parts[a], ns[b]);

    static seen s;
    memset(&s, 0, sizeof s);
    s.fail_from = -1;
    char err[64] = "";
    CHECK(util_par_ranges(4, 0, mark, &s, err, sizeof err) == 0 && s.calls[0] == 0, "n = 0 runs nothing");

    /* parts 2 and 3 of 4 fail: the error is part 2's, the others still ran */
    memset(&s, 0, sizeof s);
    s.fail_from = 2;
    int rc = util_par_ranges(4, 100, mark, &s, err, sizeof err);
    CHECK(rc == -1 && !strcmp(err, "part 2 failed"), "rc %d, err '%s' (want part 2's)", rc, err);
    CHECK(s.calls[0] == 1 && s.calls[1] == 1 && s.calls[3] == 1, "every part ran despite the failures");
    /* a single part that fails reports through the caller's buffer */
    memset(&s, 0, sizeof s);
    s.fail_from = 0;
    rc = util_par_ranges(1, 10, mark, &s, err, sizeof err);
    CHECK(rc == -1 && !strcmp(err, "part 0 failed"), "one part: rc %d, err '%s'", rc, err);
    return test_finish();
}
