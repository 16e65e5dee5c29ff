/* The statistics of bench rows: mean and sample standard deviation,
 * percentiles, and Welch's t-test (is a difference between two sets of
 * samples larger than their spread explains?). */
#ifndef PHI3VK_BENCH_STATS_H
#define PHI3VK_BENCH_STATS_H

/* Mean and sample standard deviation (n - 1; 0 when n is 1) of x[0, n), n >= 1. */
void bench_mean_sd(const double *x, int n, double *mean, double *sd);

/* The q-th percentile (0..100) of x[0, n), n >= 1, interpolated linearly
 * between the closest ranks of the sorted values (numpy's default): p50 of
 * {1, 2, 3, 4} is 2.5, p99 of 5 values lies between the two largest. */
double bench_percentile(const double *x, int n, double q);

/* Welch's two-sided t-test of the means of a[0, na) and b[0, nb). Returns
 * the p-value (the chance of a difference at least this large between the
 * means if both sets came from the same distribution) and sets *t and *df;
 * NaN when either set has fewer than 2 samples. Two sets without any
 * spread give 0 when their means differ and 1 when they are equal. */
double bench_welch_p(const double *a, int na, const double *b, int nb, double *t, double *df);

/* The regularized incomplete beta function I_x(a, b), x in [0, 1], a, b > 0
 * (a continued fraction; relative error ~1e-12). */
double bench_inc_beta(double x, double a, double b);

#endif
