/* eval --plot: the ROC curve and the reliability diagram of P(toxic) drawn
 * side by side into an RGB image (written by formats/png.h), for people who
 * would rather look than read. Text is drawn with a built-in 5x7 pixel
 * font (capital letters, digits and a few signs).
 *
 * Left panel: the ROC curve (false positive rate against true positive
 * rate through every threshold) with the chance diagonal, titled with
 * ROC-AUC. Right panel: the reliability diagram (per bin of
 * judge_calib, the mean P(toxic) against the fraction of toxic items, as
 * points joined by lines) with the diagonal of a calibrated score and the
 * share of items per bin as grey bars, titled with the ECE. A panel whose
 * curve is undefined (one class only) says so instead. */
#ifndef PHI3VK_JUDGE_PLOT_H
#define PHI3VK_JUDGE_PLOT_H

#include <stdint.h>

#include "judge/report.h"

#define JUDGE_PLOT_W 960 /* pixels */
#define JUDGE_PLOT_H 440

/* Draws the two panels for report r and its ROC points (fpr, tpr: n_roc
 * points from judge_roc_points; n_roc < 0 when undefined) into rgb
 * (JUDGE_PLOT_W x JUDGE_PLOT_H x 3 bytes, top row first). */
void judge_plot_render(const judge_report *r, const double *fpr, const double *tpr, int n_roc, uint8_t *rgb);

#endif
