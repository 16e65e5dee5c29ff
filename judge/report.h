/* judge reports: the evaluation of a labelled run as scikit-learn prints it,
 * plus the confusion matrix and ROC-AUC of P(toxic).
 *
 * Classes: 0 = non-toxic, 1 = toxic (the model card's order). Predictions
 * are judge_labels, so a third value, JUDGE_UNPARSABLE, exists. It is
 * counted as wrong for the item's true class and as a prediction of neither
 * class:
 * - per-class precision, recall, f1-score, support and the macro and
 *   weighted averages equal sklearn's classification_report(y_true, y_pred,
 *   labels=[0, 1], zero_division=0): an unparsable answer lowers the recall
 *   of its true class (a false negative) and no class's precision;
 * - accuracy = correct / all items, i.e. accuracy_score(y_true, y_pred) with
 *   unparsable answers wrong. (Where unparsable answers exist, sklearn with
 *   labels=[0, 1] would print a "micro avg" row instead of "accuracy"; the
 *   report always prints accuracy, which is what the card reports.)
 * Without unparsable answers the text equals sklearn's output for
 * target_names = the class names, digits = digits.
 * zero_division=0: a class never predicted has precision 0, a class with no
 * items recall 0, and f1 = 2TP / (2TP + FP + FN) is 0 when that is 0/0; no
 * warning is printed. The 0s enter the macro and weighted averages. */
#ifndef PHI3VK_JUDGE_REPORT_H
#define PHI3VK_JUDGE_REPORT_H

#include <stddef.h>

#include "judge/label.h"

typedef struct cJSON cJSON;

typedef struct judge_class_metrics {
    double precision;  /* TP / (TP + FP) */
    double recall;     /* TP / support */
    double f1;         /* 2TP / (2TP + FP + FN) = harmonic mean of the two */
    int support;       /* items whose true class this is (n for averages) */
} judge_class_metrics;

#define JUDGE_CALIB_BINS 10 /* reliability bins of width 0.1 */

/* One reliability bin: the items whose P(toxic) is in [lower, upper) (the
 * last bin includes 1). */
typedef struct judge_calib_bin {
    double lower, upper;  /* the bin's edges */
    int count;            /* items in it */
    double mean_p;        /* their mean P(toxic); NaN when empty */
    double fraction_pos;  /* the fraction of them that are toxic (class 1); NaN when empty */
} judge_calib_bin;

/* The calibration table of P(toxic), as scikit-learn's
 * calibration_curve(strategy="uniform", n_bins=10) bins it, with the
 * expected calibration error ECE = sum over bins of count / n x
 * |mean_p - fraction_pos|. */
typedef struct judge_calib {
    judge_calib_bin bins[JUDGE_CALIB_BINS];
    int n;                /* items with a finite score */
    double ece;           /* NaN when n is 0 */
} judge_calib;

/* The threshold on P(toxic) whose labels "toxic when P(toxic) >= t" have
 * the largest F1 of the toxic class, over every t that is a score. */
typedef struct judge_best_f1 {
    double f1;            /* NaN when undefined (no toxic item) */
    double threshold;     /* the highest t reaching it */
    double precision;     /* precision and recall of the toxic class at t */
    double recall;
} judge_best_f1;

typedef struct judge_report {
    int n;                          /* items */
    int n_unparsable;               /* answers that were neither class */
    int confusion[2][3];            /* [true class][predicted 0, 1, 2 = unparsable] */
    judge_class_metrics cls[2];     /* class 0 non-toxic, class 1 toxic */
    double accuracy;                /* correct / n; unparsable counts as wrong */
    judge_class_metrics macro;      /* mean over the two classes */
    judge_class_metrics weighted;   /* mean weighted by support */
    double roc_auc;                 /* area under the ROC curve of the scores;
                                       NaN when undefined (a class missing) */
    int n_scored;                   /* items with a finite score, used for AUC */
    double pr_auc;                  /* average precision of the scores (sklearn's
                                       average_precision_score); NaN without a toxic item */
    judge_best_f1 best_f1;          /* the best-F1 threshold */
    judge_calib calib;              /* reliability bins and ECE */
} judge_report;

/* Computes the report of n items: y_true[i] in {0, 1}, y_pred[i] a
 * judge_label, score[i] = P(toxic) (NULL: no ROC-AUC; NaN entries are left
 * out of it). Returns 0, or -1 with a message naming the first bad entry. */
int judge_report_compute(const int *y_true, const judge_label *y_pred, const double *score, int n,
                         judge_report *out, char *err, size_t errlen);

/* ROC-AUC of scores for the positive class 1, equal to sklearn's
 * roc_auc_score (trapezoids through the points at each distinct threshold):
 * computed as the Mann-Whitney statistic, P(score of a random positive >
 * score of a random negative) with ties counting 1/2, from average ranks.
 * Entries with a non-finite score are skipped. NaN when no positive or no
 * negative remains. Uses O(n) extra memory; NaN when out of memory. */
double judge_roc_auc(const int *y_true, const double *score, int n);

/* Average precision of the scores for class 1, sklearn's
 * average_precision_score: the sum over the distinct thresholds, highest
 * first, of (recall - previous recall) x precision. Non-finite scores are
 * skipped. NaN without a positive item (or when out of memory). */
double judge_pr_auc(const int *y_true, const double *score, int n);

/* The best-F1 threshold of the scores (see judge_best_f1); every field NaN
 * without a positive item. Non-finite scores are skipped. */
judge_best_f1 judge_best_f1_threshold(const int *y_true, const double *score, int n);

/* The calibration table of the scores (see judge_calib). */
void judge_calibration(const int *y_true, const double *score, int n, judge_calib *out);

/* The ROC curve through every distinct threshold, from (0, 0) to (1, 1):
 * *fpr and *tpr (malloc'ed, the caller frees both) get the points; returns
 * their count, or -1 (nothing allocated) when a class has no scored item or
 * when out of memory. */
int judge_roc_points(const int *y_true, const double *score, int n, double **fpr, double **tpr);

/* The classification report in sklearn's layout (header, one row per class,
 * accuracy, macro avg, weighted avg), digits decimals (sklearn's default is
 * 2). names: the two class names (NULL: "non-toxic", "toxic"). Returns a
 * malloc'ed string ending in a newline, NULL when out of memory. */
char *judge_report_format_table(const judge_report *r, const char *const names[2], int digits);

/* The whole text report: the table, the confusion matrix (rows true class,
 * columns predicted, with an unparsable column), ROC-AUC, PR-AUC, the
 * best-F1 threshold, the number of unparsable answers and the calibration
 * table with its ECE (an undefined metric is said to be, with why).
 * Malloc'ed; NULL when out of memory. */
char *judge_report_format(const judge_report *r, const char *const names[2], int digits);

/* The report as JSON: {"n", "unparsable", "report": {<class name>:
 * {"precision", "recall", "f1-score", "support"}, ..., "accuracy",
 * "macro avg", "weighted avg"} (the keys of sklearn's output_dict),
 * "confusion_matrix": {"rows", "columns", "counts"}, "roc_auc" (null when
 * undefined), "roc_auc_items", "pr_auc" (null when undefined), "best_f1":
 * {"f1", "threshold", "precision", "recall"} (nulls when undefined),
 * "calibration": {"bins": [{"lower", "upper", "count", "mean_p_toxic",
 * "fraction_toxic"}], "ece"}, "schema_version"}. Numbers have 6 significant
 * digits. Caller frees with cJSON_Delete; NULL when out of memory. */
cJSON *judge_report_json(const judge_report *r, const char *const names[2]);

#endif
