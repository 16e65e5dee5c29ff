/* Statistics of bench rows (see stats.h). */
#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_mean_sd(const double *x, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = n > 0 ? s / n : NAN;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(const double *x, int n, double q) {
    if (n < 1) return NAN;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double pos = (q < 0 ? 0 : q > 100 ? 100 : q) / 100.0 * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double v = s[lo] + (pos - lo) * (s[hi] - s[lo]);
    free(s);
    return v;
}

/* The continued fraction of I_x(a, b) (modified Lentz), for x < (a+1)/(a+b+2). */
static double beta_fraction(double x, double a, double b) {
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 500; m++) {
        /* the even step, then the odd step of the fraction */
        double e = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        d = 1 + e * d, c = 1 + e / c;
        d = 1 / (fabs(d) < tiny ? tiny : d), c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        double o = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
        d = 1 + o * d, c = 1 + o / c;
        d = 1 / (fabs(d) < tiny ? tiny : d), c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        if (fabs(d * c - 1) < 1e-14) break;
    }
    return h;
}

double bench_inc_beta(double x, double a, double b) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double ln_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(ln_front) * beta_fraction(x, a, b) / a;
    return 1 - exp(ln_front) * beta_fraction(1 - x, b, a) / b;
}

double bench_welch_p(const double *a, int na, const double *b, int nb, double *t, double *df) {
    *t = NAN, *df = NAN;
    if (na < 2 || nb < 2) return NAN;
    double ma, sa, mb, sb;
    bench_mean_sd(a, na, &ma, &sa);
    bench_mean_sd(b, nb, &mb, &sb);
    double va = sa * sa / na, vb = sb * sb / nb, se2 = va + vb;
    if (se2 == 0) {
        *t = ma == mb ? 0 : INFINITY;
        return ma == mb ? 1 : 0;
    }
    *t = (ma - mb) / sqrt(se2);
    /* Welch-Satterthwaite degrees of freedom */
    *df = se2 * se2 / ((va > 0 ? va * va / (na - 1) : 0) + (vb > 0 ? vb * vb / (nb - 1) : 0));
    /* two-sided p of Student's t: I_{df / (df + t^2)}(df / 2, 1 / 2) */
    return bench_inc_beta(*df / (*df + *t * *t), *df / 2, 0.5);
}
