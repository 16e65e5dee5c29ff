/* ROC and reliability panels of eval --plot, drawn pixel by pixel; see plot.h. */
#include "judge/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 320      /* plot area side, pixels */
#define TOP 56         /* plot area's top edge */
#define LEFT0 80       /* left panel's plot area left edge */
#define LEFT1 560      /* right panel's */
#define SCALE 2        /* font pixels per glyph dot */

typedef struct rgb {
    uint8_t r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, GRID = {225, 225, 225}, DIAG = {150, 150, 150},
                 BLUE = {31, 94, 180}, ORANGE = {220, 110, 20}, BAR = {205, 215, 230};

/* 5x7 glyphs, a row per byte, bit 4 = the left column. */
typedef struct glyph {
    char c;
    uint8_t rows[7];
} glyph;

static const glyph FONT[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},     {'2', {14, 17, 1, 2, 4, 8, 31}},
    {'3', {31, 2, 4, 2, 1, 17, 14}},     {'4', {2, 6, 10, 18, 31, 2, 2}},    {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},      {'8', {14, 17, 17, 14, 17, 17, 14}},
    {'9', {14, 17, 17, 15, 1, 2, 12}},   {'A', {14, 17, 17, 31, 17, 17, 17}}, {'B', {30, 17, 17, 30, 17, 17, 30}},
    {'C', {14, 17, 16, 16, 16, 17, 14}}, {'D', {28, 18, 17, 17, 17, 18, 28}}, {'E', {31, 16, 16, 30, 16, 16, 31}},
    {'F', {31, 16, 16, 30, 16, 16, 16}}, {'G', {14, 17, 16, 23, 17, 17, 15}}, {'H', {17, 17, 17, 31, 17, 17, 17}},
    {'I', {14, 4, 4, 4, 4, 4, 14}},      {'J', {7, 2, 2, 2, 2, 18, 12}},     {'K', {17, 18, 20, 24, 20, 18, 17}},
    {'L', {16, 16, 16, 16, 16, 16, 31}}, {'M', {17, 27, 21, 21, 17, 17, 17}}, {'N', {17, 17, 25, 21, 19, 17, 17}},
    {'O', {14, 17, 17, 17, 17, 17, 14}}, {'P', {30, 17, 17, 30, 16, 16, 16}}, {'Q', {14, 17, 17, 17, 21, 18, 13}},
    {'R', {30, 17, 17, 30, 20, 18, 17}}, {'S', {15, 16, 16, 14, 1, 1, 30}},  {'T', {31, 4, 4, 4, 4, 4, 4}},
    {'U', {17, 17, 17, 17, 17, 17, 14}}, {'V', {17, 17, 17, 17, 17, 10, 4}}, {'W', {17, 17, 17, 21, 21, 21, 10}},
    {'X', {17, 17, 10, 4, 10, 17, 17}},  {'Y', {17, 17, 10, 4, 4, 4, 4}},    {'Z', {31, 1, 2, 4, 8, 16, 31}},
    {'.', {0, 0, 0, 0, 0, 12, 12}},      {',', {0, 0, 0, 0, 12, 4, 8}},      {'=', {0, 0, 31, 0, 31, 0, 0}},
    {'(', {2, 4, 8, 8, 8, 4, 2}},        {')', {8, 4, 2, 2, 2, 4, 8}},       {'-', {0, 0, 0, 31, 0, 0, 0}},
    {':', {0, 12, 12, 0, 12, 12, 0}},    {'/', {0, 1, 2, 4, 8, 16, 0}},      {'>', {8, 4, 2, 1, 2, 4, 8}},
    {'<', {2, 4, 8, 16, 8, 4, 2}},       {'%', {24, 25, 2, 4, 8, 19, 3}},
};

static const glyph *find_glyph(char c) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof FONT / sizeof FONT[0]; i++)
        if (FONT[i].c == c) return &FONT[i];
    return NULL; /* a space, or a sign the font lacks: left blank */
}

static void put(uint8_t *img, int x, int y, rgb c) {
    if (x < 0 || y < 0 || x >= JUDGE_PLOT_W || y >= JUDGE_PLOT_H) return;
    uint8_t *p = img + ((size_t)y * JUDGE_PLOT_W + (size_t)x) * 3;
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

static void rect(uint8_t *img, int x0, int y0, int x1, int y1, rgb c) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(img, x, y, c);
}

/* A line of the given thickness (a square pen), dashed when dash > 0. */
static void line(uint8_t *img, double x0, double y0, double x1, double y1, int thick, int dash, rgb c) {
    double len = fmax(fabs(x1 - x0), fabs(y1 - y0));
    int steps = (int)ceil(len) + 1;
    for (int i = 0; i <= steps; i++) {
        if (dash && (i / dash) % 2) continue;
        double t = (double)i / steps;
        int x = (int)lround(x0 + t * (x1 - x0)), y = (int)lround(y0 + t * (y1 - y0));
        rect(img, x - thick / 2, y - thick / 2, x - thick / 2 + thick - 1, y - thick / 2 + thick - 1, c);
    }
}

/* Text with its top-left corner at (x, y); vertical: rotated a quarter turn
 * counter-clockwise, reading upwards from (x, y) as its bottom-left. */
static void text(uint8_t *img, int x, int y, const char *s, int vertical, rgb c) {
    for (int k = 0; s[k]; k++) {
        const glyph *g = find_glyph(s[k]);
        for (int r = 0; g && r < 7; r++)
            for (int col = 0; col < 5; col++) {
                if (!(g->rows[r] >> (4 - col) & 1)) continue;
                int gx = k * 6 + col, gy = r;
                int px = vertical ? x + gy * SCALE : x + gx * SCALE, py = vertical ? y - gx * SCALE : y + gy * SCALE;
                rect(img, px, py, px + SCALE - 1, py + SCALE - 1, c);
            }
    }
}

static int text_width(const char *s) { return (int)strlen(s) * 6 * SCALE - SCALE; }

/* Axes, grid and tick labels of a unit square at (left, TOP). */
static void frame(uint8_t *img, int left, const char *title, const char *xlabel, const char *ylabel) {
    for (int k = 1; k < 4; k++) {
        int p = k * PANEL / 4;
        line(img, left + p, TOP, left + p, TOP + PANEL, 1, 0, GRID);
        line(img, left, TOP + p, left + PANEL, TOP + p, 1, 0, GRID);
    }
    line(img, left, TOP, left, TOP + PANEL, 2, 0, BLACK);
    line(img, left, TOP + PANEL, left + PANEL, TOP + PANEL, 2, 0, BLACK);
    line(img, left + PANEL, TOP, left + PANEL, TOP + PANEL, 1, 0, BLACK);
    line(img, left, TOP, left + PANEL, TOP, 1, 0, BLACK);
    static const char *const ticks[3] = {"0", "0.5", "1"};
    for (int k = 0; k < 3; k++) {
        int p = k * PANEL / 2;
        text(img, left + p - text_width(ticks[k]) / 2, TOP + PANEL + 8, ticks[k], 0, BLACK);
        text(img, left - 10 - text_width(ticks[k]), TOP + PANEL - p - 7, ticks[k], 0, BLACK);
    }
    text(img, left + (PANEL - text_width(title)) / 2, TOP - 30, title, 0, BLACK);
    text(img, left + (PANEL - text_width(xlabel)) / 2, TOP + PANEL + 30, xlabel, 0, BLACK);
    text(img, left - 72, TOP + (PANEL + text_width(ylabel)) / 2, ylabel, 1, BLACK);
}

/* Plot coordinates of (u, v) in [0, 1]^2 inside the square at left. */
static double px(int left, double u) { return left + u * PANEL; }
static double py(double v) { return TOP + (1 - v) * PANEL; }

static void roc_panel(uint8_t *img, const judge_report *r, const double *fpr, const double *tpr, int n) {
    char title[64];
    if (n >= 2) snprintf(title, sizeof title, "ROC   AUC %.4f", r->roc_auc);
    else snprintf(title, sizeof title, "ROC: UNDEFINED (ONE CLASS)");
    frame(img, LEFT0, title, "FALSE POSITIVE RATE", "TRUE POSITIVE RATE");
    line(img, px(LEFT0, 0), py(0), px(LEFT0, 1), py(1), 1, 6, DIAG);
    for (int i = 1; i < n; i++)
        line(img, px(LEFT0, fpr[i - 1]), py(tpr[i - 1]), px(LEFT0, fpr[i]), py(tpr[i]), 3, 0, BLUE);
}

static void reliability_panel(uint8_t *img, const judge_report *r) {
    const judge_calib *c = &r->calib;
    char title[64];
    if (c->n) snprintf(title, sizeof title, "RELIABILITY   ECE %.4f", c->ece);
    else snprintf(title, sizeof title, "RELIABILITY: NO SCORES");
    frame(img, LEFT1, title, "MEAN P(TOXIC)", "FRACTION TOXIC");
    int most = 1;
    for (int b = 0; b < JUDGE_CALIB_BINS; b++)
        if (c->bins[b].count > most) most = c->bins[b].count;
    for (int b = 0; b < JUDGE_CALIB_BINS; b++) { /* items per bin, up to a quarter of the height */
        const judge_calib_bin *k = &c->bins[b];
        if (!k->count) continue;
        double h = 0.25 * k->count / most;
        rect(img, (int)px(LEFT1, k->lower) + 2, (int)py(h), (int)px(LEFT1, k->upper) - 2, (int)py(0) - 2, BAR);
    }
    line(img, px(LEFT1, 0), py(0), px(LEFT1, 1), py(1), 1, 6, DIAG);
    double lx = NAN, ly = NAN;
    for (int b = 0; b < JUDGE_CALIB_BINS; b++) {
        const judge_calib_bin *k = &c->bins[b];
        if (!k->count) continue;
        double x = px(LEFT1, k->mean_p), y = py(k->fraction_pos);
        if (!isnan(lx)) line(img, lx, ly, x, y, 3, 0, ORANGE);
        rect(img, (int)x - 4, (int)y - 4, (int)x + 4, (int)y + 4, ORANGE);
        lx = x, ly = y;
    }
}

void judge_plot_render(const judge_report *r, const double *fpr, const double *tpr, int n_roc, uint8_t *rgb) {
    for (size_t i = 0; i < (size_t)JUDGE_PLOT_W * JUDGE_PLOT_H; i++) memcpy(rgb + 3 * i, &WHITE, 3);
    roc_panel(rgb, r, fpr, tpr, n_roc);
    reliability_panel(rgb, r);
}
