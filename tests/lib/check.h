/* Minimal test harness shared by tests/test_*.c.
 * CHECK(cond, fmt, ...) records a failure with file:line and continues;
 * test_finish() prints "N checks, M failed" and returns the exit code.
 * Exit code 77 = skipped: call test_skip("why"). */
#ifndef PHI3VK_TEST_CHECK_H
#define PHI3VK_TEST_CHECK_H
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

extern int test_checks;   /* checks run so far */
extern int test_failures; /* checks failed so far */

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        test_checks++;                                                        \
        if (!(cond)) {                                                        \
            test_failures++;                                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* Prints the summary; returns 0 when nothing failed, 1 otherwise, and 77
 * when nothing failed but a part was skipped (test_skip_part). */
int test_finish(void);
/* Prints "SKIP: why" and exits with 77 (ctest's skip code). */
void test_skip(const char *why);
/* A part of the test cannot run: prints "SKIP (part): why" now, and
 * test_finish returns 77 when nothing failed, so ctest reports the test as
 * not run instead of passed. */
void test_skip_part(const char *why);
/* Path of ../shared/data (env PHI3VK_DATA), or skips the test if absent. */
const char *test_data_dir(void);

/* Deterministic xorshift RNG. */
typedef struct { uint64_t s; } test_rng;
float test_rng_uniform(test_rng *r);            /* [-1, 1) */
float test_rng_normal(test_rng *r);             /* mean 0, sd 1 */

/* Normalized mean squared error: sum((a-b)^2) / sum(b^2), b the reference.
 * Returns sum((a-b)^2)/n when the reference is all zeros. */
double test_nmse(const float *a, const float *ref, size_t n);

#endif
