/* The classify/eval loop: resume, batches, outputs, progress; see run.h. */
#include "judge/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge/provenance.h"
#include "util/time.h"
#include "util/utf8.h"

#define PREVIEW_COLUMNS 60

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void judge_run_results_free(judge_run_result *results, int n) {
    if (!results) return;
    for (int i = 0; i < n; i++) {
        free((char *)results[i].r.reason);
        free((char *)results[i].r.error);
        results[i].r.reason = NULL;
        results[i].r.error = NULL;
    }
}

/* Copies the results the output file already has for the same text; an
 * error record, or one for another text, runs again (*changed counts the
 * latter). Returns how many were resumed, or -1 when out of memory. */
static int take_resumed(const judge_dataset *ds, const int *idx, int n, const judge_results *out,
                        judge_run_result *results, int *changed) {
    int resumed = 0;
    *changed = 0;
    for (int i = 0; i < n; i++) {
        const judge_item *item = &ds->items[idx[i]];
        judge_result *r = &results[i].r;
        r->id = item->id;
        r->p_toxic = NAN;
        judge_sha256_hex(item->text, item->text_len, r->text_sha256);
        const judge_result *got = out ? judge_results_get(out, item->id) : NULL;
        if (!got || got->label == JUDGE_ERROR) continue;
        if (got->text_sha256[0] && strcmp(got->text_sha256, r->text_sha256)) {
            (*changed)++;
            continue;
        }
        *r = *got;
        r->id = item->id;
        r->error = NULL;
        r->n_keep = item->keep ? ds->n_keep : 0;
        r->keep_names = (const char *const *)ds->keep_names;
        r->keep_values = (const char *const *)item->keep;
        r->reason = got->reason ? dup_str(got->reason) : NULL;
        if (got->reason && !r->reason) return -1;
        results[i].resumed = 1;
        results[i].done = 1;
        resumed++;
    }
    return resumed;
}

int judge_run_is_done(const judge_results *out, const judge_item *item) {
    const judge_result *got = out ? judge_results_get(out, item->id) : NULL;
    if (!got || got->label == JUDGE_ERROR) return 0;
    if (!got->text_sha256[0]) return 1;
    char sha[65];
    judge_sha256_hex(item->text, item->text_len, sha);
    return !strcmp(sha, got->text_sha256);
}

/* 1 when out already holds exactly this error for this text (an item that
 * fails again the same way is not written twice). */
static int same_error(const judge_results *out, const judge_result *res) {
    const judge_result *got = out ? judge_results_get(out, res->id) : NULL;
    return got && got->label == JUDGE_ERROR && res->label == JUDGE_ERROR && !strcmp(got->text_sha256, res->text_sha256) &&
           got->error && res->error && !strcmp(got->error, res->error);
}

void judge_run_flush(const judge_run_opts *o) {
    if (o->jsonl) fflush(o->jsonl);
    if (o->table) fflush(o->table);
    if (o->records) fflush(o->records->f);
}

int judge_run_emit(const judge_run_opts *o, const judge_item *item, const judge_result *res, int id_width, char *err,
                   size_t errlen) {
    if (o->out && !same_error(o->out, res) && judge_results_append(o->out, res, err, errlen)) return -1;
    if (o->jsonl) {
        char *line = judge_result_line(res, NULL);
        if (!line) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        fputs(line, o->jsonl);
        free(line);
    }
    if (o->table) {
        char row[1024];
        judge_table_row(item, res, id_width, row, sizeof row);
        fputs(row, o->table);
    }
    if (o->records && judge_output_record(o->records, res)) {
        snprintf(err, errlen, "writing the %s records failed (out of memory or a full disk)",
                 judge_output_format_name(o->records->fmt));
        return -1;
    }
    return 0;
}

static int id_width_of(const judge_dataset *ds, const int *idx, int n) {
    int w = 2;
    for (int i = 0; i < n; i++) {
        int k = (int)strlen(ds->items[idx[i]].id);
        if (k > w) w = k;
    }
    return w > 24 ? 24 : w;
}

int judge_run(const judge_dataset *ds, const int *idx, int n, judge_classify_fn fn, void *user,
              const judge_run_opts *o, judge_run_result *results, judge_progress *prog, char *err, size_t errlen) {
    int bs = o->batch > 0 ? o->batch : 1;
    memset(results, 0, sizeof *results * (size_t)(n > 0 ? n : 0));
    const judge_item **items = malloc(sizeof *items * (size_t)bs);
    judge_result *out = malloc(sizeof *out * (size_t)bs);
    int *pos = malloc(sizeof *pos * (size_t)bs);
    int changed = 0;
    int resumed = (items && out && pos) ? take_resumed(ds, idx, n, o->out, results, &changed) : -1;
    int rc = 0, id_width = id_width_of(ds, idx, n);
    if (resumed < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }
    judge_progress_start(prog, n - resumed, resumed);
    prog->changed = changed;
    if (o->records && judge_output_begin(o->records, (const char *const *)ds->keep_names, ds->n_keep)) {
        snprintf(err, errlen, "writing the %s records failed", judge_output_format_name(o->records->fmt));
        rc = -1;
        goto done;
    }
    if (o->table) {
        char head[128];
        judge_table_header(id_width, head, sizeof head);
        fputs(head, o->table);
    }
    for (int next = 0;;) {
        if (o->stop && *o->stop) {
            rc = 1;
            break;
        }
        int k = 0, rerr = 0;
        for (; next < n && k < bs; next++) {
            if (results[next].done) { /* resumed: records keep the input order */
                if (o->records && k > 0) break;
                if (o->records && judge_output_record(o->records, &results[next].r)) rerr = 1;
                continue;
            }
            pos[k] = next;
            items[k++] = &ds->items[idx[next]];
        }
        if (rerr) {
            snprintf(err, errlen, "writing the %s records failed", judge_output_format_name(o->records->fmt));
            rc = -1;
            break;
        }
        if (k == 0) break;
        memset(out, 0, sizeof *out * (size_t)k);
        for (int j = 0; j < k; j++) out[j].p_toxic = NAN;
        double t0 = util_now_s();
        int frc = fn(user, items, k, out, err, errlen);
        double ms = (util_now_s() - t0) * 1000.0 / k;
        if (o->progress && (o->table || o->jsonl)) judge_progress_clear(o->progress);
        for (int j = 0; j < k; j++) {
            out[j].id = items[j]->id;
            memcpy(out[j].text_sha256, results[pos[j]].r.text_sha256, sizeof out[j].text_sha256);
            out[j].n_keep = items[j]->keep ? ds->n_keep : 0;
            out[j].keep_names = (const char *const *)ds->keep_names;
            out[j].keep_values = (const char *const *)items[j]->keep;
            if (!(out[j].ms > 0)) out[j].ms = ms;
            judge_run_result *dst = &results[pos[j]];
            dst->r = out[j];
            out[j].reason = NULL; /* owned by results now */
            out[j].error = NULL;
            if (frc) continue;
            if (judge_run_emit(o, items[j], &dst->r, id_width, err, errlen)) {
                frc = -1;
                continue;
            }
            dst->done = 1;
            judge_progress_add(prog, &dst->r);
        }
        judge_run_flush(o);
        if (frc) {
            rc = -1;
            break;
        }
        if (o->progress) judge_progress_draw(prog, o->progress, 0);
    }
    if (o->records && judge_output_end(o->records) && rc == 0) {
        snprintf(err, errlen, "writing the %s records failed", judge_output_format_name(o->records->fmt));
        rc = -1;
    }
    if (o->progress) {
        judge_progress_draw(prog, o->progress, 1);
        fputc('\n', o->progress);
    }
done:
    free(items);
    free(out);
    free(pos);
    return rc;
}

/* ---- table ---------------------------------------------------------------- */

/* Appends s (one line, control characters as spaces, at most max_cols
 * characters, "..." when cut) to buf at *w. */
static void put_preview(char *buf, size_t len, size_t *w, const char *s, size_t n, int max_cols) {
    int cols = 0;
    size_t i = 0;
    while (i < n && cols < max_cols) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        const char *piece = s + i;
        size_t plen = k;
        if (c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                                        (unsigned char)s[i + 1] <= 0x9F)) {
            /* C0 and C1 controls (ESC, CSI ...) would drive the terminal */
            piece = " ";
            plen = 1;
            k = c == 0xC2 ? 2 : 1;
        } else if (k > 1 && (i + k > n || !util_utf8_valid(s + i, k))) {
            piece = "\xEF\xBF\xBD";
            plen = 3;
            k = 1;
        } else if (c >= 0x80 && k == 1) {
            piece = "\xEF\xBF\xBD";
            plen = 3;
        }
        if (*w + plen + 4 >= len) break;
        memcpy(buf + *w, piece, plen);
        *w += plen;
        i += k;
        cols++;
    }
    if (i < n && *w + 4 < len) {
        memcpy(buf + *w, "...", 3);
        *w += 3;
    }
    buf[*w] = 0;
}

void judge_table_header(int id_width, char *buf, size_t len) {
    snprintf(buf, len, "%-*s  %-10s  %7s  %s\n", id_width, "id", "label", "p_toxic", "text");
}

void judge_table_row(const judge_item *item, const judge_result *res, int id_width, char *buf, size_t len) {
    if (len < 8) {
        if (len) buf[0] = 0;
        return;
    }
    char p[16];
    if (isfinite(res->p_toxic)) snprintf(p, sizeof p, "%7.4f", res->p_toxic);
    else snprintf(p, sizeof p, "%7s", "-");
    /* the id comes from the input file: shown like the text, controls as spaces */
    char id[256];
    size_t iw = 0;
    put_preview(id, sizeof id, &iw, res->id, strlen(res->id), 64);
    int cols = 0;
    for (size_t i = 0; i < iw; i++) cols += ((unsigned char)id[i] & 0xC0) != 0x80;
    int pad = id_width > cols ? id_width - cols : 0;
    int k = snprintf(buf, len - 2, "%s%*s  %-10s  %s  ", id, pad, "", judge_label_name(res->label), p);
    size_t w = (k < 0) ? 0 : ((size_t)k < len - 2 ? (size_t)k : len - 3);
    put_preview(buf, len - 1, &w, item->text, item->text_len, PREVIEW_COLUMNS);
    const char *more = res->reason ? res->reason : res->error, *tag = res->reason ? "\n    reason: " : "\n    error: ";
    if (more && w + 16 < len) {
        memcpy(buf + w, tag, strlen(tag));
        w += strlen(tag);
        put_preview(buf, len - 1, &w, more, strlen(more), 200);
    }
    buf[w++] = '\n';
    buf[w] = 0;
}
