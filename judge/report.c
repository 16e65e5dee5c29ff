/* Evaluation report; definitions and the sklearn correspondence in report.h. */
#include "judge/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/results.h"

static const char *const DEFAULT_NAMES[2] = {"non-toxic", "toxic"};

/* a / b, or 0 when b is 0: sklearn's zero_division=0. */
static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

int judge_report_compute(const int *y_true, const judge_label *y_pred, const double *score, int n,
                         judge_report *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) {
        if (y_true[i] != 0 && y_true[i] != 1) {
            snprintf(err, errlen, "item %d: true class %d, expected 0 or 1", i, y_true[i]);
            return -1;
        }
        if ((int)y_pred[i] < 0 || (int)y_pred[i] > 2) {
            snprintf(err, errlen, "item %d: prediction %d, expected a judge_label", i, (int)y_pred[i]);
            return -1;
        }
        r->confusion[y_true[i]][y_pred[i]]++;
    }
    r->n = n;
    r->n_unparsable = r->confusion[0][2] + r->confusion[1][2];
    for (int c = 0; c < 2; c++) {
        double tp = r->confusion[c][c];
        double predicted = r->confusion[0][c] + r->confusion[1][c];  /* TP + FP */
        double support = r->confusion[c][0] + r->confusion[c][1] + r->confusion[c][2];  /* TP + FN */
        judge_class_metrics *m = &r->cls[c];
        m->precision = ratio(tp, predicted);
        m->recall = ratio(tp, support);
        m->f1 = ratio(2 * tp, predicted + support);
        m->support = (int)support;
    }
    r->accuracy = ratio(r->confusion[0][0] + r->confusion[1][1], n);
    r->macro.precision = (r->cls[0].precision + r->cls[1].precision) / 2;
    r->macro.recall = (r->cls[0].recall + r->cls[1].recall) / 2;
    r->macro.f1 = (r->cls[0].f1 + r->cls[1].f1) / 2;
    r->macro.support = n;
    double w0 = ratio(r->cls[0].support, n), w1 = ratio(r->cls[1].support, n);
    r->weighted.precision = w0 * r->cls[0].precision + w1 * r->cls[1].precision;
    r->weighted.recall = w0 * r->cls[0].recall + w1 * r->cls[1].recall;
    r->weighted.f1 = w0 * r->cls[0].f1 + w1 * r->cls[1].f1;
    r->weighted.support = n;
    r->roc_auc = r->pr_auc = NAN;
    r->best_f1 = (judge_best_f1){NAN, NAN, NAN, NAN};
    r->calib.ece = NAN;
    if (score) {
        for (int i = 0; i < n; i++) r->n_scored += isfinite(score[i]) != 0;
        r->roc_auc = judge_roc_auc(y_true, score, n);
        r->pr_auc = judge_pr_auc(y_true, score, n);
        r->best_f1 = judge_best_f1_threshold(y_true, score, n);
        judge_calibration(y_true, score, n, &r->calib);
    }
    return 0;
}

/* ---- text ----------------------------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            t->oom = 1;
            return;
        }
        if (t->s && t->len + (size_t)k < t->cap) {
            t->len += (size_t)k;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)k;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
}

static char *finish(text *t) {
    if (t->oom) {
        free(t->s);
        return NULL;
    }
    return t->s;
}

static void put_table(text *t, const judge_report *r, const char *const names[2], int digits) {
    /* sklearn: width = max(longest class name, len("weighted avg"), digits);
     * every number column is 9 wide and preceded by one space. */
    int width = (int)strlen("weighted avg");
    for (int c = 0; c < 2; c++)
        if ((int)strlen(names[c]) > width) width = (int)strlen(names[c]);
    if (digits > width) width = digits;
    put(t, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    const judge_class_metrics *rows[4] = {&r->cls[0], &r->cls[1], &r->macro, &r->weighted};
    const char *row_names[4] = {names[0], names[1], "macro avg", "weighted avg"};
    for (int i = 0; i < 4; i++) {
        if (i == 2) {
            put(t, "\n%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", digits, r->accuracy, r->n);
        }
        put(t, "%*s  %9.*f %9.*f %9.*f %9d\n", width, row_names[i], digits, rows[i]->precision, digits,
            rows[i]->recall, digits, rows[i]->f1, rows[i]->support);
    }
}

char *judge_report_format_table(const judge_report *r, const char *const names[2], int digits) {
    text t = {0};
    put_table(&t, r, names ? names : DEFAULT_NAMES, digits < 0 ? 2 : digits);
    return finish(&t);
}

char *judge_report_format(const judge_report *r, const char *const names[2], int digits) {
    if (!names) names = DEFAULT_NAMES;
    if (digits < 0) digits = 2;
    text t = {0};
    put_table(&t, r, names, digits);
    int w = (int)strlen("unparsable");
    for (int c = 0; c < 2; c++)
        if ((int)strlen(names[c]) > w) w = (int)strlen(names[c]);
    put(&t, "\nconfusion matrix (rows: true class, columns: predicted)\n%*s", w, "");
    put(&t, "  %*s  %*s  %*s\n", w, names[0], w, names[1], w, "unparsable");
    for (int c = 0; c < 2; c++)
        put(&t, "%*s  %*d  %*d  %*d\n", w, names[c], w, r->confusion[c][0], w, r->confusion[c][1], w,
            r->confusion[c][2]);
    int auc_digits = digits > 4 ? digits : 4;
    if (isnan(r->roc_auc))
        put(&t, "\nROC-AUC of P(%s): undefined (%d scored items, both classes needed)\n", names[1], r->n_scored);
    else
        put(&t, "\nROC-AUC of P(%s): %.*f (%d items)\n", names[1], auc_digits, r->roc_auc, r->n_scored);
    if (isnan(r->pr_auc))
        put(&t, "PR-AUC (average precision) of P(%s): undefined (no %s item)\n", names[1], names[1]);
    else
        put(&t, "PR-AUC (average precision) of P(%s): %.*f\n", names[1], auc_digits, r->pr_auc);
    const judge_best_f1 *b = &r->best_f1;
    if (isnan(b->f1))
        put(&t, "best F1 threshold: undefined (no %s item)\n", names[1]);
    else
        put(&t, "best F1 threshold: P(%s) >= %.*g gives F1 %.*f (precision %.*f, recall %.*f)\n", names[1], 6,
            b->threshold, auc_digits, b->f1, digits, b->precision, digits, b->recall);
    put(&t, "unparsable answers: %d of %d (counted as wrong)\n", r->n_unparsable, r->n);
    if (r->calib.n == 0) return finish(&t);
    put(&t, "\ncalibration of P(%s) (%d bins; a calibrated score has mean P close to the fraction)\n", names[1],
        JUDGE_CALIB_BINS);
    put(&t, "  %-9s  %6s  %8s  %14s\n", "P(toxic)", "items", "mean P", "fraction toxic");
    for (int i = 0; i < JUDGE_CALIB_BINS; i++) {
        const judge_calib_bin *c = &r->calib.bins[i];
        char range[32];
        snprintf(range, sizeof range, "%.1f-%.1f", c->lower, c->upper);
        if (!c->count) put(&t, "  %-9s  %6d  %8s  %14s\n", range, 0, "-", "-");
        else put(&t, "  %-9s  %6d  %8.4f  %14.4f\n", range, c->count, c->mean_p, c->fraction_pos);
    }
    put(&t, "expected calibration error (ECE): %.4f\n", r->calib.ece);
    return finish(&t);
}

/* ---- JSON ----------------------------------------------------------------- */

/* A real number rounded to 6 significant digits, which cJSON then prints
 * as such (null when not finite). */
static cJSON *add_real(cJSON *o, const char *name, double x) {
    char buf[32];
    if (!isfinite(x)) return cJSON_AddNullToObject(o, name);
    snprintf(buf, sizeof buf, "%.6g", x);
    return cJSON_AddNumberToObject(o, name, strtod(buf, NULL));
}

static cJSON *metrics_json(const judge_class_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_real(o, "precision", m->precision);
    add_real(o, "recall", m->recall);
    add_real(o, "f1-score", m->f1);
    cJSON_AddNumberToObject(o, "support", m->support);
    return o;
}

/* "best_f1" and "calibration" of the report (see report.h). */
static int curves_json(cJSON *root, const judge_report *r) {
    cJSON *b = cJSON_AddObjectToObject(root, "best_f1");
    cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
    cJSON *bins = cal ? cJSON_AddArrayToObject(cal, "bins") : NULL;
    if (!b || !bins) return -1;
    add_real(b, "f1", r->best_f1.f1);
    add_real(b, "threshold", r->best_f1.threshold);
    add_real(b, "precision", r->best_f1.precision);
    add_real(b, "recall", r->best_f1.recall);
    for (int i = 0; i < JUDGE_CALIB_BINS; i++) {
        const judge_calib_bin *c = &r->calib.bins[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(bins, o)) {
            cJSON_Delete(o);
            return -1;
        }
        add_real(o, "lower", c->lower);
        add_real(o, "upper", c->upper);
        cJSON_AddNumberToObject(o, "count", c->count);
        add_real(o, "mean_p_toxic", c->mean_p);
        add_real(o, "fraction_toxic", c->fraction_pos);
        if (cJSON_GetArraySize(o) != 5) return -1;
    }
    add_real(cal, "ece", r->calib.ece);
    return cJSON_GetArraySize(b) == 4 && cJSON_GetArraySize(cal) == 2 ? 0 : -1;
}

cJSON *judge_report_json(const judge_report *r, const char *const names[2]) {
    if (!names) names = DEFAULT_NAMES;
    cJSON *root = cJSON_CreateObject();
    cJSON *rep = cJSON_CreateObject();
    cJSON *cm = cJSON_CreateObject();
    const char *cols[3] = {names[0], names[1], "unparsable"};
    cJSON *counts = cJSON_CreateArray();
    if (!root || !rep || !cm || !counts) goto fail;
    cJSON_AddNumberToObject(root, "n", r->n);
    cJSON_AddNumberToObject(root, "unparsable", r->n_unparsable);
    cJSON_AddItemToObject(root, "report", rep);
    rep = NULL;
    cJSON *dst = cJSON_GetObjectItemCaseSensitive(root, "report");
    cJSON_AddItemToObject(dst, names[0], metrics_json(&r->cls[0]));
    cJSON_AddItemToObject(dst, names[1], metrics_json(&r->cls[1]));
    add_real(dst, "accuracy", r->accuracy);
    cJSON_AddItemToObject(dst, "macro avg", metrics_json(&r->macro));
    cJSON_AddItemToObject(dst, "weighted avg", metrics_json(&r->weighted));
    for (int c = 0; c < 2; c++) cJSON_AddItemToArray(counts, cJSON_CreateIntArray(r->confusion[c], 3));
    cJSON_AddItemToObject(cm, "rows", cJSON_CreateStringArray(names, 2));
    cJSON_AddItemToObject(cm, "columns", cJSON_CreateStringArray(cols, 3));
    cJSON_AddItemToObject(cm, "counts", counts);
    counts = NULL;
    cJSON_AddItemToObject(root, "confusion_matrix", cm);
    cm = NULL;
    add_real(root, "roc_auc", r->roc_auc);
    cJSON_AddNumberToObject(root, "roc_auc_items", r->n_scored);
    add_real(root, "pr_auc", r->pr_auc);
    if (curves_json(root, r)) goto fail;
    cJSON_AddNumberToObject(root, "schema_version", JUDGE_SCHEMA_VERSION);
    /* cJSON's Add* calls fail silently when out of memory: verify the tree. */
    if (cJSON_GetArraySize(dst) != 5 || cJSON_GetArraySize(root) != 10) goto fail;
    return root;
fail:
    cJSON_Delete(root);
    cJSON_Delete(rep);
    cJSON_Delete(cm);
    cJSON_Delete(counts);
    return NULL;
}
