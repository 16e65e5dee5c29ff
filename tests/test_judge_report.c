/* judge reports against hand-computed values.
 *
 * The expected numbers and texts were derived by hand and checked with a
 * short python3 script (stdlib fractions.Fraction for exact ratios, and
 * str.format with sklearn's classification_report format strings:
 * "{:>{width}s} " + " {:>9}" * 4 for the header, " {:>9.{digits}f}" per
 * number, "{:>{width}s} " + " {:>9.{digits}}" * 2 for the accuracy row's
 * blanks, width = max(longest name, len("weighted avg"), digits)). ROC-AUC
 * references come from counting every positive/negative pair (ties = 1/2),
 * a different method from the rank sums the library uses. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge/report.h"
#include "lib/check.h"

#define U JUDGE_UNPARSABLE
static char err[256];

static int near(double a, double b) { return fabs(a - b) < 1e-12; }

/* The model card's report (175 / 175; class 0 p .85 r .90 f1 .87, class 1
 * p .89 r .85 f1 .87, accuracy .87) is reproduced exactly by the confusion
 * matrix [[157, 18], [27, 148]]: p0 = 157/184, r0 = 157/175, p1 = 148/166,
 * r1 = 148/175, accuracy = 305/350. */
static void check_card(void) {
    int yt[350];
    judge_label yp[350];
    for (int i = 0; i < 350; i++) {
        yt[i] = i >= 175;
        yp[i] = (i < 157 || (i >= 175 && i < 202)) ? JUDGE_NON_TOXIC : JUDGE_TOXIC;
    }
    judge_report r;
    CHECK(judge_report_compute(yt, yp, NULL, 350, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.confusion[0][0] == 157 && r.confusion[0][1] == 18 && r.confusion[1][0] == 27 && r.confusion[1][1] == 148,
          "confusion");
    CHECK(near(r.cls[0].precision, 157.0 / 184) && near(r.cls[0].recall, 157.0 / 175) &&
              near(r.cls[0].f1, 314.0 / 359),
          "class 0: %f %f %f", r.cls[0].precision, r.cls[0].recall, r.cls[0].f1);
    CHECK(near(r.cls[1].precision, 148.0 / 166) && near(r.cls[1].recall, 148.0 / 175) &&
              near(r.cls[1].f1, 296.0 / 341),
          "class 1");
    CHECK(near(r.accuracy, 305.0 / 350), "accuracy %f", r.accuracy);
    CHECK(near(r.macro.precision, 0.8724135673127292) && near(r.macro.recall, 0.8714285714285714) &&
              near(r.macro.f1, 0.871343500600397),
          "macro");
    CHECK(near(r.weighted.f1, 0.871343500600397) && r.weighted.support == 350, "weighted");
    CHECK(isnan(r.roc_auc) && r.n_scored == 0, "no scores, no AUC");
    const char *want = "              precision    recall  f1-score   support\n\n"
                       "   non-toxic       0.85      0.90      0.87       175\n"
                       "       toxic       0.89      0.85      0.87       175\n\n"
                       "    accuracy                           0.87       350\n"
                       "   macro avg       0.87      0.87      0.87       350\n"
                       "weighted avg       0.87      0.87      0.87       350\n";
    char *got = judge_report_format_table(&r, NULL, 2);
    CHECK(got && !strcmp(got, want), "card table:\n%s", got ? got : "(null)");
    free(got);
}

/* Class 0 never predicted: zero_division=0 gives precision, recall, f1 0
 * for it; class 1 p = 2/5, r = 1, f1 = 4/7; macro f1 = 2/7; weighted
 * p = 0.16, f1 = 8/35. */
static void check_never_predicted(void) {
    int yt[5] = {0, 0, 0, 1, 1};
    judge_label yp[5] = {1, 1, 1, 1, 1};
    judge_report r;
    CHECK(judge_report_compute(yt, yp, NULL, 5, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.cls[0].precision == 0 && r.cls[0].recall == 0 && r.cls[0].f1 == 0 && r.cls[0].support == 3, "class 0");
    CHECK(near(r.cls[1].precision, 0.4) && r.cls[1].recall == 1 && near(r.cls[1].f1, 4.0 / 7), "class 1");
    CHECK(near(r.macro.f1, 2.0 / 7) && near(r.weighted.precision, 0.16) && near(r.weighted.f1, 8.0 / 35), "avgs");
    const char *want = "              precision    recall  f1-score   support\n\n"
                       "   non-toxic       0.00      0.00      0.00         3\n"
                       "       toxic       0.40      1.00      0.57         2\n\n"
                       "    accuracy                           0.40         5\n"
                       "   macro avg       0.20      0.50      0.29         5\n"
                       "weighted avg       0.16      0.40      0.23         5\n";
    char *got = judge_report_format_table(&r, NULL, 2);
    CHECK(got && !strcmp(got, want), "never predicted:\n%s", got ? got : "(null)");
    free(got);

    /* A class with no items at all: recall 0 (zero_division), support 0. */
    int yt2[2] = {1, 1};
    judge_label yp2[2] = {0, 1};
    judge_report_compute(yt2, yp2, NULL, 2, &r, err, sizeof err);
    CHECK(r.cls[0].support == 0 && r.cls[0].recall == 0 && r.cls[0].precision == 0 && r.cls[0].f1 == 0,
          "empty class");
    CHECK(near(r.cls[1].f1, 2.0 / 3) && near(r.weighted.f1, 2.0 / 3) && near(r.macro.f1, 1.0 / 3), "empty avgs");

    judge_report_compute(yt, yp, NULL, 0, &r, err, sizeof err);
    CHECK(r.n == 0 && r.accuracy == 0 && r.weighted.f1 == 0, "no items");
}

/* Unparsable answers: wrong for their true class, predicted as neither.
 * Class 0: TP 2 of 3 predicted, support 3 -> 2/3, 2/3, 2/3; class 1: TP 1 of
 * 1 predicted, support 3 -> 1, 1/3, 1/2; accuracy 3/6. */
static void check_unparsable(void) {
    int yt[6] = {0, 0, 1, 1, 1, 0};
    judge_label yp[6] = {0, U, 1, U, 0, 0};
    judge_report r;
    CHECK(judge_report_compute(yt, yp, NULL, 6, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.n_unparsable == 2 && r.confusion[0][2] == 1 && r.confusion[1][2] == 1 && r.confusion[1][0] == 1,
          "confusion with unparsable");
    CHECK(near(r.cls[0].precision, 2.0 / 3) && near(r.cls[0].recall, 2.0 / 3) && near(r.cls[0].f1, 2.0 / 3),
          "class 0");
    CHECK(r.cls[1].precision == 1 && near(r.cls[1].recall, 1.0 / 3) && near(r.cls[1].f1, 0.5), "class 1");
    CHECK(r.accuracy == 0.5 && near(r.macro.precision, 5.0 / 6) && near(r.macro.f1, 7.0 / 12), "acc/macro");
    const char *want = "              precision    recall  f1-score   support\n\n"
                       "   non-toxic       0.67      0.67      0.67         3\n"
                       "       toxic       1.00      0.33      0.50         3\n\n"
                       "    accuracy                           0.50         6\n"
                       "   macro avg       0.83      0.50      0.58         6\n"
                       "weighted avg       0.83      0.50      0.58         6\n";
    char *got = judge_report_format_table(&r, NULL, 2);
    CHECK(got && !strcmp(got, want), "unparsable table:\n%s", got ? got : "(null)");
    free(got);
    got = judge_report_format(&r, NULL, 2);
    CHECK(got && strstr(got, "\n non-toxic           2           0           1\n") &&
              strstr(got, "unparsable answers: 2 of 6 (counted as wrong)") && strstr(got, "ROC-AUC") &&
              strstr(got, "undefined"),
          "full text:\n%s", got ? got : "(null)");
    free(got);

    /* JSON mirrors sklearn's output_dict keys. */
    cJSON *j = judge_report_json(&r, NULL);
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(j, "report");
    const cJSON *tox = cJSON_GetObjectItemCaseSensitive(rep, "toxic");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "confusion_matrix"),
                                                       "counts");
    char *printed = j ? cJSON_PrintUnformatted(j) : NULL; /* 6 significant digits, not 17 */
    CHECK(printed && strstr(printed, "\"recall\":0.333333,") && !strstr(printed, "0.3333333"), "digits: %s",
          printed ? printed : "(null)");
    cJSON_free(printed);
    CHECK(j && fabs(cJSON_GetObjectItemCaseSensitive(tox, "recall")->valuedouble - 1.0 / 3) < 1e-6 &&
              cJSON_GetObjectItemCaseSensitive(rep, "accuracy")->valuedouble == 0.5 &&
              cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "macro avg"), "f1-score") &&
              cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "roc_auc")) &&
              cJSON_GetArrayItem(cJSON_GetArrayItem(cm, 1), 2)->valueint == 1 &&
              cJSON_GetObjectItemCaseSensitive(j, "unparsable")->valueint == 2,
          "json");
    cJSON_Delete(j);

    int bad[1] = {2};
    CHECK(judge_report_compute(bad, yp, NULL, 1, &r, err, sizeof err) == -1 && strstr(err, "item 0"), "bad class");
    judge_label badp[1] = {(judge_label)5};
    CHECK(judge_report_compute(yt, badp, NULL, 1, &r, err, sizeof err) == -1, "bad prediction");
}

/* Long names and digits = 4 widen the columns as sklearn does. */
static void check_layout(void) {
    int yt[3] = {0, 1, 1};
    judge_label yp[3] = {0, 1, 0};
    judge_report r;
    judge_report_compute(yt, yp, NULL, 3, &r, err, sizeof err);
    const char *names[2] = {"harmless comment", "hateful comment"};
    const char *want = "                  precision    recall  f1-score   support\n\n"
                       "harmless comment     0.5000    1.0000    0.6667         1\n"
                       " hateful comment     1.0000    0.5000    0.6667         2\n\n"
                       "        accuracy                         0.6667         3\n"
                       "       macro avg     0.7500    0.7500    0.6667         3\n"
                       "    weighted avg     0.8333    0.6667    0.6667         3\n";
    char *got = judge_report_format_table(&r, names, 4);
    CHECK(got && !strcmp(got, want), "layout:\n%s", got ? got : "(null)");
    free(got);
}

/* Brute force: every positive/negative pair, ties 1/2. */
static double auc_pairs(const int *y, const double *s, int n) {
    double t = 0, np = 0, nn = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(s[i])) continue;
        np += y[i] == 1;
        nn += y[i] == 0;
        for (int j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0 && isfinite(s[j])) t += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    }
    return (np && nn) ? t / (np * nn) : NAN;
}

static void check_roc_auc(void) {
    /* Ties: 7 of 9 pairs (pos 0.9 beats all 3; each pos 0.5 beats 0.1 and
     * ties two 0.5s) = 7/9, also the trapezoid area through (0, 1/3),
     * (2/3, 1), (1, 1). */
    int y[6] = {0, 0, 1, 1, 0, 1};
    double s[6] = {0.1, 0.5, 0.5, 0.9, 0.5, 0.5};
    CHECK(near(judge_roc_auc(y, s, 6), 7.0 / 9), "ties: %f", judge_roc_auc(y, s, 6));
    double flat[6] = {0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
    CHECK(judge_roc_auc(y, flat, 6) == 0.5, "all tied");
    double perfect[6] = {0.1, 0.2, 0.8, 0.9, 0.3, 0.7};
    CHECK(judge_roc_auc(y, perfect, 6) == 1.0, "perfect");
    double inverted[6] = {0.9, 0.8, 0.2, 0.1, 0.7, 0.3};
    CHECK(judge_roc_auc(y, inverted, 6) == 0.0, "inverted");
    int one[3] = {1, 1, 1};
    CHECK(isnan(judge_roc_auc(one, s, 3)), "one class");
    /* NaN scores are left out: without item 3 (0.9), each 0.5 positive wins
     * 1 + 1/2 + 1/2 of its 3 pairs: 4 of 6. */
    double with_nan[6] = {0.1, 0.5, 0.5, NAN, 0.5, 0.5};
    CHECK(near(judge_roc_auc(y, with_nan, 6), 4.0 / 6), "NaN skipped: %f", judge_roc_auc(y, with_nan, 6));

    judge_label yp[6] = {0, 0, 1, 1, 0, 1};
    judge_report r;
    judge_report_compute(y, yp, with_nan, 6, &r, err, sizeof err);
    CHECK(r.n_scored == 5 && near(r.roc_auc, 4.0 / 6), "report AUC");

    /* Random scores on a coarse grid (many ties) against the pair count. */
    test_rng rng = {12345};
    for (int trial = 0; trial < 20; trial++) {
        int n = 1 + trial * 7, yy[200];
        double ss[200];
        for (int i = 0; i < n; i++) {
            yy[i] = test_rng_uniform(&rng) > 0.2f;
            ss[i] = floor((test_rng_uniform(&rng) + 1) * 5) / 10;
        }
        double a = judge_roc_auc(yy, ss, n), b = auc_pairs(yy, ss, n);
        CHECK((isnan(a) && isnan(b)) || fabs(a - b) < 1e-12, "trial %d: %f vs %f", trial, a, b);
    }
}

/* PR-AUC, best-F1 threshold, ROC points and calibration on hand-computed
 * cases (scikit-learn's average_precision_score gives 29/36 for the first). */
static void check_curves(void) {
    int y[5] = {1, 0, 1, 1, 0};
    double s[5] = {0.7, 0.8, 0.9, 0.3, 0.2};
    /* descending: .9(1) .8(0) .7(1) .3(1) .2(0): AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/4 */
    CHECK(fabs(judge_pr_auc(y, s, 5) - 29.0 / 36) < 1e-12, "AP %.9f", judge_pr_auc(y, s, 5));
    judge_best_f1 b = judge_best_f1_threshold(y, s, 5);
    CHECK(fabs(b.f1 - 6.0 / 7) < 1e-12 && b.threshold == 0.3 && b.precision == 0.75 && b.recall == 1.0,
          "best F1 %f at %f (p %f r %f)", b.f1, b.threshold, b.precision, b.recall);
    double *fpr, *tpr;
    int n = judge_roc_points(y, s, 5, &fpr, &tpr);
    static const double want_f[6] = {0, 0, 0.5, 0.5, 0.5, 1}, want_t[6] = {0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1, 1};
    int same = n == 6;
    for (int i = 0; same && i < 6; i++) same = fabs(fpr[i] - want_f[i]) < 1e-12 && fabs(tpr[i] - want_t[i]) < 1e-12;
    CHECK(same, "ROC points: %d", n);
    if (n > 0) free(fpr), free(tpr);
    /* ties form one threshold; NaN scores are left out */
    int yt[3] = {1, 0, 1};
    double st[3] = {0.5, 0.5, NAN};
    CHECK(judge_pr_auc(yt, st, 3) == 0.5, "tied AP %f", judge_pr_auc(yt, st, 3));
    b = judge_best_f1_threshold(yt, st, 3);
    CHECK(fabs(b.f1 - 2.0 / 3) < 1e-12 && b.threshold == 0.5, "tied best F1 %f at %f", b.f1, b.threshold);
    /* one class: undefined */
    int y0[2] = {0, 0};
    CHECK(isnan(judge_pr_auc(y0, s, 2)) && isnan(judge_best_f1_threshold(y0, s, 2).f1), "no positive: NaN");
    CHECK(judge_roc_points(y0, s, 2, &fpr, &tpr) == -1, "no positive: no ROC curve");
    /* calibration: bins as numpy's digitize on linspace(0, 1, 11) (0.3 falls below the edge 3 * 0.1) */
    int yc[6] = {0, 0, 1, 1, 1, 0};
    double sc[6] = {0.05, 0.15, 0.1, 0.95, 1.0, 0.3};
    judge_calib c;
    judge_calibration(yc, sc, 6, &c);
    CHECK(c.n == 6 && c.bins[0].count == 1 && c.bins[1].count == 2 && c.bins[2].count == 1 && c.bins[9].count == 2 &&
              c.bins[5].count == 0 && isnan(c.bins[5].mean_p),
          "bin counts %d %d %d %d", c.bins[0].count, c.bins[1].count, c.bins[2].count, c.bins[9].count);
    CHECK(fabs(c.bins[1].mean_p - 0.125) < 1e-12 && c.bins[1].fraction_pos == 0.5 && c.bins[9].fraction_pos == 1,
          "bin 1: %f %f", c.bins[1].mean_p, c.bins[1].fraction_pos);
    CHECK(fabs(c.ece - 1.15 / 6) < 1e-12, "ECE %.9f, want %.9f", c.ece, 1.15 / 6);
    /* the report carries them, and its text says when they are undefined */
    judge_label pred[2] = {JUDGE_NON_TOXIC, JUDGE_NON_TOXIC};
    judge_report r;
    char err[256];
    CHECK(judge_report_compute(y0, pred, s, 2, &r, err, sizeof err) == 0 && isnan(r.pr_auc) && r.calib.n == 2, "%s", err);
    char *t = judge_report_format(&r, NULL, 2);
    CHECK(t && strstr(t, "PR-AUC (average precision) of P(toxic): undefined (no toxic item)") &&
              strstr(t, "best F1 threshold: undefined") && strstr(t, "expected calibration error (ECE): "),
          "%s", t ? t : "(null)");
    free(t);
}

int main(void) {
    check_curves();
    check_card();
    check_never_predicted();
    check_unparsable();
    check_layout();
    check_roc_auc();
    return test_finish();
}
