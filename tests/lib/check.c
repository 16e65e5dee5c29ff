/* The test harness: CHECK bookkeeping, skips (exit 77), the shared-data folder, a seeded RNG, normalized error. */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

int test_checks = 0;
int test_failures = 0;

static int skipped_parts = 0;

int test_finish(void) {
    printf("%d checks, %d failed\n", test_checks, test_failures);
    if (!test_failures && skipped_parts) {
        printf("SKIP: %d part%s of this test did not run (see SKIP (part) above)\n", skipped_parts,
               skipped_parts == 1 ? "" : "s");
        return 77;
    }
    return test_failures ? 1 : 0;
}

void test_skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}

void test_skip_part(const char *why) {
    printf("SKIP (part): %s\n", why);
    skipped_parts++;
}

const char *test_data_dir(void) {
    const char *d = getenv("PHI3VK_DATA");
    struct stat st;
    if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        test_skip("../shared/data (env PHI3VK_DATA) is absent: reference files needed");
    }
    return d;
}

static uint64_t rng_next(test_rng *r) {
    uint64_t x = r->s ? r->s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

float test_rng_uniform(test_rng *r) {
    return (float)((rng_next(r) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

float test_rng_normal(test_rng *r) {
    double u1 = ((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740993.0);
    double u2 = (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

double test_nmse(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (den == 0) return n ? num / (double)n : 0;
    return num / den;
}
