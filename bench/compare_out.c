/* bench-compare's outputs: the table (md, csv, json, jsonl) and the SVG
 * chart (see compare.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/compare.h"

/* ---- Markdown ---- */

static void md_value(bench_sb *b, const bench_cmp_row *r) {
    if (!r) {
        bench_sb_printf(b, " - |");
        return;
    }
    bench_sb_printf(b, " %.4g ± %.2g (%d)%s |", r->mean, r->sd, r->n, r->valid ? "" : " **INVALID**");
}

static void md_ratio(bench_sb *b, const bench_cmp *c, const bench_cmp_line *l, int f) {
    if (!l->row[0] || !l->row[f]) {
        bench_sb_printf(b, " - |");
        return;
    }
    bench_sb_printf(b, " %.3gx, %s", l->ratio[f], bench_cmp_verdict(c, l, f));
    if (!isnan(l->p[f])) bench_sb_printf(b, l->p[f] < 0.001 ? " (p < 0.001)" : " (p = %.2g)", l->p[f]);
    if (l->labels_agree[f] >= 0)
        bench_sb_printf(b, "; labels agree %d/%zu", l->labels_agree[f], strlen(l->row[0]->labels));
    bench_sb_printf(b, " |");
}

static char *format_md(const bench_cmp *c) {
    bench_sb b = {0};
    bench_sb_printf(&b, "files:\n\n");
    for (int f = 0; f < c->n_files; f++)
        bench_sb_printf(&b, "- %c: %s: %s (schema %d, %d rows)\n", 'A' + f, c->files[f].name, c->files[f].label,
                        c->files[f].schema, c->files[f].n);
    bench_sb_printf(&b, "\n| kind | test | model |");
    for (int f = 0; f < c->n_files; f++) bench_sb_printf(&b, " %c mean ± sd (n) |", 'A' + f);
    for (int f = 1; f < c->n_files; f++) bench_sb_printf(&b, " %c / A |", 'A' + f);
    bench_sb_printf(&b, "\n|---|---|---|");
    for (int f = 0; f < c->n_files; f++) bench_sb_printf(&b, "---:|");
    for (int f = 1; f < c->n_files; f++) bench_sb_printf(&b, "---|");
    bench_sb_printf(&b, "\n");
    for (int i = 0; i < c->n_lines; i++) {
        const bench_cmp_line *l = &c->lines[i];
        const bench_cmp_row *any = NULL;
        for (int f = 0; f < c->n_files && !any; f++) any = l->row[f];
        bench_sb_printf(&b, "| %s | %s | %s |", any->kind, any->test, any->model[0] ? any->model : "-");
        for (int f = 0; f < c->n_files; f++) md_value(&b, l->row[f]);
        for (int f = 1; f < c->n_files; f++) md_ratio(&b, c, l, f);
        bench_sb_printf(&b, "\n");
    }
    bench_sb_printf(&b, "\nUnits: t/s (model rows: tokens/s; judge rows: prompt tokens/s), GFLOP/s (kernel rows). "
                        "Welch's t-test on the samples: a difference with p >= %g is within the noise of the samples "
                        "and says nothing; with one sample the spread is unknown. **INVALID**: a correctness check "
                        "of that row failed, so its number is not a result. schema %d\n",
                    c->alpha, BENCH_SCHEMA_VERSION);
    return bench_sb_done(&b);
}

/* ---- records ---- */

/* One record: line l, file f against the first. */
typedef struct cmp_rec {
    const bench_cmp *c;
    const bench_cmp_line *l;
    int f;
} cmp_rec;

static double nan_if(const bench_cmp_row *r, double v) { return r ? v : NAN; }

static int rec_field(const void *ctx, const void *row, int i, bench_field *fl) {
    (void)ctx;
    const cmp_rec *rec = row;
    const bench_cmp *c = rec->c;
    const bench_cmp_line *l = rec->l;
    int f = rec->f;
    const bench_cmp_row *a = l ? l->row[0] : NULL, *b = l ? l->row[f] : NULL, *any = a ? a : b;
    switch (i) {
    case 0: *fl = bench_int("schema_version", BENCH_SCHEMA_VERSION); break;
    case 1: *fl = bench_str("kind", any ? any->kind : ""); break;
    case 2: *fl = bench_str("test", any ? any->test : ""); break;
    case 3: *fl = bench_str("model", any ? any->model : ""); break;
    case 4: *fl = bench_str("unit", any ? any->unit : ""); break;
    case 5: *fl = bench_str("baseline_file", c ? c->files[0].name : ""); break;
    case 6: *fl = bench_str("baseline", c ? c->files[0].label : ""); break;
    case 7: *fl = bench_str("file", c ? c->files[f].name : ""); break;
    case 8: *fl = bench_str("label", c ? c->files[f].label : ""); break;
    case 9: *fl = bench_num("baseline_mean", nan_if(a, a ? a->mean : 0)); break;
    case 10: *fl = bench_num("baseline_sd", nan_if(a, a ? a->sd : 0)); break;
    case 11: *fl = bench_int("baseline_n", nan_if(a, a ? a->n : 0)); break;
    case 12: *fl = bench_num("mean", nan_if(b, b ? b->mean : 0)); break;
    case 13: *fl = bench_num("sd", nan_if(b, b ? b->sd : 0)); break;
    case 14: *fl = bench_int("n", nan_if(b, b ? b->n : 0)); break;
    case 15: *fl = bench_num("ratio", l && f ? l->ratio[f] : NAN); break;
    case 16: *fl = bench_num("p_value", l && f ? l->p[f] : NAN); break;
    case 17: *fl = bench_str("verdict", l ? bench_cmp_verdict(c, l, f) : ""); break;
    case 18: *fl = bench_str("valid", (!a || a->valid) && (!b || b->valid) ? "yes" : "no"); break;
    case 19: *fl = bench_int("labels_agree", l && l->labels_agree[f] >= 0 ? l->labels_agree[f] : NAN); break;
    default: return 0;
    }
    return 1;
}

char *bench_cmp_format(const bench_cmp *c, bench_format fmt) {
    if (fmt == BENCH_FMT_MD) return format_md(c);
    int per = c->n_files > 1 ? c->n_files - 1 : 1, n = 0;
    cmp_rec *recs = malloc(sizeof *recs * (size_t)(c->n_lines * per + 1));
    if (!recs) return NULL;
    for (int i = 0; i < c->n_lines; i++)
        for (int f = c->n_files > 1 ? 1 : 0; f < c->n_files; f++) recs[n++] = (cmp_rec){c, &c->lines[i], f};
    char *text = bench_rows_format(fmt, rec_field, NULL, recs, sizeof *recs, n);
    free(recs);
    return text;
}

/* ---- SVG ---- */

static const char *const colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                                      "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

/* s with the XML special characters escaped, at most n bytes of it. */
static void xml_text(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; s[i] && i < n; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)s[i] >= 0x20) fputc(s[i], f);
        }
    }
}

/* Rows of line l present in the files. */
static int present(const bench_cmp *c, const bench_cmp_line *l) {
    int n = 0;
    for (int k = 0; k < c->n_files; k++) n += l->row[k] != NULL;
    return n;
}

/* One bar of file k on line l at y; top is the longest mean + sd of the line. */
static void svg_bar(FILE *f, const bench_cmp *c, const bench_cmp_line *l, int k, int y, double top, int left,
                    double span) {
    const int bar = 16;
    const bench_cmp_row *r = l->row[k];
    double w = top > 0 ? r->mean / top * span : 0, e = top > 0 ? r->sd / top * span : 0;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, y, w, bar,
            colours[k % 10]);
    if (!r->valid)
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"url(#bad)\"/>\n", left, y, w, bar);
    if (e > 0)
        fprintf(f, "<path d=\"M%.1f,%d H%.1f M%.1f,%d V%d M%.1f,%d V%d\" stroke=\"black\"/>\n", left + w - e,
                y + bar / 2, left + w + e, left + w - e, y + 3, y + bar - 3, left + w + e, y + 3, y + bar - 3);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\">%c: %.4g %s", left + w + e + 6, y + bar - 4, 'A' + k, r->mean, r->unit);
    if (k > 0 && l->row[0]) {
        const char *v = bench_cmp_verdict(c, l, k);
        fprintf(f, ", %.3gx A%s", l->ratio[k], !strcmp(v, "within noise") ? " (within noise)"
                                                   : strstr(v, "1 sample") ? " (1 sample)" : "");
    }
    fprintf(f, "%s</text>\n", r->valid ? "" : " INVALID");
}

int bench_cmp_plot_svg(const bench_cmp *c, const char *path, char *err, size_t errlen) {
    const int W = 980, left = 300, right = 250, bar = 16, gap = 16, legend = 22 * c->n_files + 44;
    int height = legend + 20;
    for (int i = 0; i < c->n_lines; i++) height += present(c, &c->lines[i]) * (bar + 2) + gap;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "--plot %s: cannot create the file", path);
        return -1;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, height);
    fprintf(f, "<defs><pattern id=\"bad\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><path d=\"M0,6 "
               "L6,0\" stroke=\"black\" stroke-width=\"1\"/></pattern></defs>\n");
    fprintf(f, "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">phi3vk bench-compare: mean ± sd "
               "per test and file (bars scaled per test; hatched: a check failed)</text>\n");
    for (int k = 0; k < c->n_files; k++) {
        int y = 30 + 22 * k;
        fprintf(f, "<rect x=\"10\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>\n<text x=\"30\" y=\"%d\">%c: ",
                y, colours[k % 10], y + 12, 'A' + k);
        xml_text(f, c->files[k].name, 120);
        fputs(" — ", f);
        xml_text(f, c->files[k].label, 160);
        fputs("</text>\n", f);
    }
    int y = legend;
    for (int i = 0; i < c->n_lines; i++) {
        const bench_cmp_line *l = &c->lines[i];
        double top = 0;
        const bench_cmp_row *any = NULL;
        for (int k = 0; k < c->n_files; k++)
            if (l->row[k]) any = any ? any : l->row[k], top = fmax(top, l->row[k]->mean + l->row[k]->sd);
        int gh = present(c, l) * (bar + 2);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + gh / 2 + 4);
        xml_text(f, any->test, 60);
        fputs(" ", f);
        xml_text(f, any->model, 60);
        fprintf(f, "</text>\n<path d=\"M%d,%d V%d\" stroke=\"#888\"/>\n", left, y - 2, y + gh);
        for (int k = 0; k < c->n_files; k++)
            if (l->row[k]) svg_bar(f, c, l, k, y, top, left, W - left - right), y += bar + 2;
        y += gap;
    }
    fputs("</svg>\n", f);
    int failed = ferror(f);
    if (fclose(f) || failed) {
        snprintf(err, errlen, "--plot %s: writing failed", path);
        return -1;
    }
    return 0;
}
