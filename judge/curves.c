/* Threshold curves of P(toxic) for eval: ROC-AUC, ROC points, average precision,
 * the best-F1 threshold and the calibration table (see judge/report.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge/report.h"

typedef struct scored {
    double s;
    int y;
} scored;

/* Descending by score. */
static int cmp_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* The finite-score items sorted by score, descending; counts of each class.
 * NULL when out of memory. */
static scored *sorted_desc(const int *y_true, const double *score, int n, int *m, double *npos, double *nneg) {
    scored *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
    if (!v) return NULL;
    *m = 0, *npos = 0, *nneg = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(score[i])) continue;
        v[*m].s = score[i];
        v[*m].y = y_true[i] ? 1 : 0;
        *npos += v[*m].y;
        *nneg += 1 - v[*m].y;
        (*m)++;
    }
    qsort(v, (size_t)*m, sizeof *v, cmp_desc);
    return v;
}

double judge_roc_auc(const int *y_true, const double *score, int n) {
    int m;
    double npos, nneg;
    scored *v = sorted_desc(y_true, score, n, &m, &npos, &nneg);
    if (!v) return NAN;
    /* Sum of the positives' ascending ranks (1-based; item i of the descending
     * order has rank m - i); a run of tied scores shares the average of its
     * ranks, which counts each tied positive/negative pair as one half. */
    double rank_sum = 0;
    for (int i = 0; i < m;) {
        int j = i;
        double pos_in_run = 0;
        while (j < m && v[j].s == v[i].s) pos_in_run += v[j++].y;
        rank_sum += pos_in_run * (2.0 * m - i - j + 1) / 2.0; /* mean of ranks m - j + 1 .. m - i */
        i = j;
    }
    free(v);
    if (npos == 0 || nneg == 0) return NAN;
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* Walks the distinct thresholds from the highest score down: calls step
 * with the cumulative true and false positives of "toxic when score >= t". */
typedef void (*step_fn)(void *user, double t, double tp, double fp);

static void walk(const scored *v, int m, step_fn step, void *user) {
    double tp = 0, fp = 0;
    for (int i = 0; i < m;) {
        double t = v[i].s;
        while (i < m && v[i].s == t) tp += v[i].y, fp += 1 - v[i].y, i++;
        step(user, t, tp, fp);
    }
}

typedef struct ap_state {
    double npos, prev_recall, ap;
} ap_state;

static void ap_step(void *user, double t, double tp, double fp) {
    (void)t;
    ap_state *s = user;
    double recall = tp / s->npos;
    s->ap += (recall - s->prev_recall) * (tp / (tp + fp));
    s->prev_recall = recall;
}

double judge_pr_auc(const int *y_true, const double *score, int n) {
    int m;
    double npos, nneg;
    scored *v = sorted_desc(y_true, score, n, &m, &npos, &nneg);
    if (!v) return NAN;
    ap_state s = {.npos = npos};
    if (npos > 0) walk(v, m, ap_step, &s);
    free(v);
    return npos > 0 ? s.ap : NAN;
}

typedef struct f1_state {
    double npos;
    judge_best_f1 best;
} f1_state;

static void f1_step(void *user, double t, double tp, double fp) {
    f1_state *s = user;
    double f1 = 2 * tp / (tp + fp + s->npos); /* 2TP / (2TP + FP + FN) */
    if (f1 > s->best.f1) { /* ties keep the higher threshold, met first */
        s->best.f1 = f1;
        s->best.threshold = t;
        s->best.precision = tp / (tp + fp);
        s->best.recall = tp / s->npos;
    }
}

judge_best_f1 judge_best_f1_threshold(const int *y_true, const double *score, int n) {
    int m;
    double npos, nneg;
    f1_state s = {.best = {NAN, NAN, NAN, NAN}};
    scored *v = sorted_desc(y_true, score, n, &m, &npos, &nneg);
    if (!v) return s.best;
    s.npos = npos;
    s.best.f1 = -1;
    if (npos > 0) walk(v, m, f1_step, &s);
    free(v);
    if (s.best.f1 < 0) s.best.f1 = NAN;
    return s.best;
}

typedef struct roc_state {
    double npos, nneg;
    double *fpr, *tpr;
    int n;
} roc_state;

static void roc_step(void *user, double t, double tp, double fp) {
    (void)t;
    roc_state *s = user;
    s->fpr[s->n] = fp / s->nneg;
    s->tpr[s->n] = tp / s->npos;
    s->n++;
}

int judge_roc_points(const int *y_true, const double *score, int n, double **fpr, double **tpr) {
    int m;
    double npos, nneg;
    *fpr = *tpr = NULL;
    scored *v = sorted_desc(y_true, score, n, &m, &npos, &nneg);
    roc_state s = {npos, nneg, malloc(sizeof(double) * (size_t)(m + 1)), malloc(sizeof(double) * (size_t)(m + 1)), 0};
    if (!v || !s.fpr || !s.tpr || npos == 0 || nneg == 0) {
        free(v);
        free(s.fpr);
        free(s.tpr);
        return -1;
    }
    s.fpr[0] = s.tpr[0] = 0;
    s.n = 1;
    walk(v, m, roc_step, &s);
    free(v);
    *fpr = s.fpr;
    *tpr = s.tpr;
    return s.n;
}

void judge_calibration(const int *y_true, const double *score, int n, judge_calib *out) {
    memset(out, 0, sizeof *out);
    double sum_p[JUDGE_CALIB_BINS] = {0}, pos[JUDGE_CALIB_BINS] = {0};
    int total = 0;
    for (int i = 0; i < n; i++) {
        double p = score[i];
        if (!isfinite(p)) continue;
        /* numpy's digitize on linspace(0, 1, 11)[1:-1]: the inner edges k * 0.1 at or below p */
        int b = 0;
        while (b < JUDGE_CALIB_BINS - 1 && (b + 1) * (1.0 / JUDGE_CALIB_BINS) <= p) b++;
        out->bins[b].count++;
        sum_p[b] += p;
        pos[b] += y_true[i] ? 1 : 0;
        total++;
    }
    out->n = total;
    out->ece = total ? 0 : NAN;
    for (int b = 0; b < JUDGE_CALIB_BINS; b++) {
        judge_calib_bin *c = &out->bins[b];
        c->lower = b * (1.0 / JUDGE_CALIB_BINS);
        c->upper = (b + 1) * (1.0 / JUDGE_CALIB_BINS);
        c->mean_p = c->count ? sum_p[b] / c->count : NAN;
        c->fraction_pos = c->count ? pos[b] / c->count : NAN;
        if (c->count) out->ece += (double)c->count / total * fabs(c->mean_p - c->fraction_pos);
    }
}
