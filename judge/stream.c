/* Items read line by line as they arrive, and their run; see stream.h. */
#include "judge/stream.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge/idset.h"
#include "judge/provenance.h"
#include "util/time.h"

#define STREAM_ID_WIDTH 6 /* the table's id column: ids are not known in advance */

struct judge_stream {
    int fd;
    char name[256];
    judge_stream_opts o;
    char *buf;                /* bytes read and not yet consumed */
    size_t len, cap;
    int eof;
    int line;                 /* lines consumed so far */
    int taken;                /* items read so far (for the limit) */
    judge_idset *ids;         /* ids seen (an id field must not repeat) */
    judge_item *items;        /* (cap_items) the items of the last call */
    const judge_item **ptrs;
    int n_items, cap_items;
    int n_invalid_utf8, first_invalid_line;
};

static void free_items(judge_stream *s) {
    for (int i = 0; i < s->n_items; i++) {
        free(s->items[i].id);
        free(s->items[i].text);
        free(s->items[i].label);
    }
    s->n_items = 0;
}

judge_stream *judge_stream_open(int fd, const char *name, const judge_stream_opts *o, char *err, size_t errlen) {
    judge_format f = o->ds.format == JUDGE_FORMAT_AUTO ? JUDGE_FORMAT_TEXT : o->ds.format;
    if (f != JUDGE_FORMAT_TEXT && f != JUDGE_FORMAT_JSONL) {
        snprintf(err, errlen, "%s: only text and jsonl are read as they arrive (%s needs the whole input)", name,
                 judge_format_name(f));
        return NULL;
    }
    judge_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->ids = judge_idset_create())) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fd = fd;
    s->o = *o;
    s->o.ds.format = f;
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

void judge_stream_close(judge_stream *s) {
    if (!s) return;
    free_items(s);
    free(s->items);
    free(s->ptrs);
    free(s->buf);
    judge_idset_destroy(s->ids);
    free(s);
}

int judge_stream_invalid_utf8(const judge_stream *s, int *first_line) {
    if (first_line) *first_line = s->first_invalid_line;
    return s->n_invalid_utf8;
}

/* Parses one line (n bytes, no '\n') as the dataset reader would; adds its
 * item unless the line is blank. */
static int take_line(judge_stream *s, const char *line, size_t n, char *err, size_t errlen) {
    judge_dataset_opts o = s->o.ds;
    o.first_line = ++s->line;
    judge_dataset *ds = judge_dataset_parse(line, n, s->name, &o, err, errlen);
    if (!ds) return -1;
    int rc = 0;
    if (ds->n == 1) {
        judge_item *it = &ds->items[0];
        int first = -1, added = judge_idset_add(s->ids, it->id, it->line, &first);
        if (added < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else if (added == 0) {
            snprintf(err, errlen, "%s:%d: id '%.64s' repeats the id of line %d (ids must be unique: results are "
                     "matched by id)", s->name, it->line, it->id, first);
            rc = -1;
        } else {
            if (ds->n_invalid_utf8 && s->n_invalid_utf8++ == 0) s->first_invalid_line = it->line;
            s->items[s->n_items++] = *it; /* the strings move to the stream */
            ds->n = 0;
            s->taken++;
        }
    }
    judge_dataset_destroy(ds);
    return rc;
}

/* Takes the whole lines in the buffer (and, at the end of the input, a last
 * line without '\n') until max items or the limit. */
static int take_lines(judge_stream *s, int max, char *err, size_t errlen) {
    size_t pos = 0;
    int rc = 0;
    while (s->n_items < max && !(s->o.limit > 0 && s->taken >= s->o.limit)) {
        const char *nl = s->len > pos ? memchr(s->buf + pos, '\n', s->len - pos) : NULL;
        if (!nl && !(s->eof && pos < s->len)) break;
        size_t end = nl ? (size_t)(nl - s->buf) : s->len;
        rc = take_line(s, s->buf + pos, end - pos, err, errlen);
        pos = nl ? end + 1 : end;
        if (rc) break;
    }
    if (pos) { /* nothing taken: buf may still be NULL */
        memmove(s->buf, s->buf + pos, s->len - pos);
        s->len -= pos;
    }
    return rc;
}

/* Reads what fd has (blocking when wait). 1: read something or the input
 * ended, 0: nothing there (or interrupted), -1 with err. */
static int fill(judge_stream *s, int wait, char *err, size_t errlen) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    int r = poll(&pfd, 1, wait ? -1 : 0);
    if (r < 0 && errno == EINTR) return 0;
    if (r < 0) return snprintf(err, errlen, "%s: %s", s->name, strerror(errno)), -1;
    if (r == 0) return 0;
    if (s->cap - s->len < 65536) {
        if (s->len > JUDGE_STREAM_MAX_LINE)
            return snprintf(err, errlen, "%s:%d: a line longer than %u bytes", s->name, s->line + 1,
                            JUDGE_STREAM_MAX_LINE), -1;
        size_t cap = s->cap ? s->cap * 2 : 1 << 17;
        char *b = realloc(s->buf, cap);
        if (!b) return snprintf(err, errlen, "out of memory"), -1;
        s->buf = b;
        s->cap = cap;
    }
    ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (k < 0) return snprintf(err, errlen, "%s: %s", s->name, strerror(errno)), -1;
    if (k == 0) s->eof = 1;
    s->len += (size_t)k;
    return 1;
}

int judge_stream_next(judge_stream *s, const judge_item *const **items, int max, volatile sig_atomic_t *stop,
                      char *err, size_t errlen) {
    free_items(s);
    if (max > s->cap_items) {
        judge_item *it = realloc(s->items, sizeof *it * (size_t)max);
        if (it) s->items = it;
        const judge_item **p = it ? realloc(s->ptrs, sizeof *p * (size_t)max) : NULL;
        if (!it || !p) return snprintf(err, errlen, "out of memory"), -1;
        s->ptrs = p;
        s->cap_items = max;
    }
    for (;;) {
        if (take_lines(s, max, err, errlen)) return -1;
        int done = s->o.limit > 0 && s->taken >= s->o.limit;
        if (s->n_items == max || done || (s->eof && s->len == 0)) break;
        /* with items in hand only what is already there; else wait */
        int got = fill(s, s->n_items == 0, err, errlen);
        if (got < 0) return -1;
        if (got == 0 && (s->n_items > 0 || (stop && *stop))) break;
    }
    for (int i = 0; i < s->n_items; i++) s->ptrs[i] = &s->items[i];
    *items = s->ptrs;
    return s->n_items;
}

int judge_stream_run(judge_stream *s, judge_classify_fn fn, void *user, const judge_run_opts *o, judge_progress *prog,
                     char *err, size_t errlen) {
    int bs = o->batch > 0 ? o->batch : 1, rc = 0;
    const judge_item **run = malloc(sizeof *run * (size_t)bs);
    judge_result *out = calloc((size_t)bs, sizeof *out);
    if (!run || !out) {
        free(run);
        free(out);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    judge_progress_start(prog, 0, 0);
    if (o->records && judge_output_begin(o->records, s->o.ds.keep_keys, s->o.ds.n_keep)) {
        free(run);
        free(out);
        return snprintf(err, errlen, "writing the %s records failed", judge_output_format_name(o->records->fmt)), -1;
    }
    if (o->table) {
        char head[128];
        judge_table_header(STREAM_ID_WIDTH, head, sizeof head);
        fputs(head, o->table);
        fflush(o->table);
    }
    for (;;) {
        if (o->stop && *o->stop) {
            rc = 1;
            break;
        }
        const judge_item *const *items;
        int n = judge_stream_next(s, &items, bs, o->stop, err, errlen), k = 0;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0) {
            rc = o->stop && *o->stop ? 1 : 0;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (s->o.shard.n > 1 && judge_shard_of(items[i]->id, s->o.shard.n) != s->o.shard.k) continue;
            if (judge_run_is_done(o->out, items[i])) {
                prog->resumed++;
                continue;
            }
            run[k++] = items[i];
        }
        if (k == 0) continue;
        memset(out, 0, sizeof *out * (size_t)k);
        for (int j = 0; j < k; j++) out[j].p_toxic = NAN;
        prog->total += k;
        double t0 = util_now_s();
        int frc = fn(user, run, k, out, err, errlen);
        double ms = (util_now_s() - t0) * 1000.0 / k;
        for (int j = 0; j < k; j++) {
            out[j].id = run[j]->id;
            out[j].n_keep = run[j]->keep ? s->o.ds.n_keep : 0;
            out[j].keep_names = s->o.ds.keep_keys;
            out[j].keep_values = (const char *const *)run[j]->keep;
            judge_sha256_hex(run[j]->text, run[j]->text_len, out[j].text_sha256);
            if (!(out[j].ms > 0)) out[j].ms = ms;
            if (!frc && judge_run_emit(o, run[j], &out[j], STREAM_ID_WIDTH, err, errlen)) frc = -1;
            else if (!frc) judge_progress_add(prog, &out[j]);
            free((char *)out[j].reason);
            free((char *)out[j].error);
        }
        judge_run_flush(o);
        if (frc) {
            rc = -1;
            break;
        }
    }
    if (o->records && judge_output_end(o->records) && rc == 0) {
        snprintf(err, errlen, "writing the %s records failed", judge_output_format_name(o->records->fmt));
        rc = -1;
    }
    free(run);
    free(out);
    return rc;
}
