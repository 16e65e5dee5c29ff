/* Results files read back for eval --predictions; see predictions.h. */
#include "judge/predictions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/idset.h"
#include "judge/shard.h"

#define MAX_FILE (1ull << 32) /* 4 GiB: far more results than any labelled file holds */
#define MAX_LISTED 10

typedef struct pred {
    judge_result r;     /* id, reason, error owned */
    int file;           /* index of the file it came from */
} pred;

struct judge_predictions {
    pred *items;
    int n, cap;
    judge_idset *ids;   /* id -> index in items */
    char **names;       /* (n_files) */
    int n_files;
    judge_provenance first;   /* the first file's first provenance */
    int first_file;           /* its file, -1 before one is read */
    char devices[2048];       /* distinct "name (driver)" */
};

static void free_result(judge_result *r) {
    free((char *)r->id);
    free((char *)r->reason);
    free((char *)r->error);
    memset(r, 0, sizeof *r);
}

void judge_predictions_destroy(judge_predictions *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) free_result(&p->items[i].r);
    for (int i = 0; i < p->n_files; i++) free(p->names[i]);
    free(p->names);
    free(p->items);
    judge_idset_destroy(p->ids);
    free(p);
}

int judge_predictions_count(const judge_predictions *p) { return p->n; }

const judge_provenance *judge_predictions_provenance(const judge_predictions *p) {
    return p->first_file >= 0 ? &p->first : NULL;
}

void judge_predictions_devices(const judge_predictions *p, char *buf, size_t len) {
    snprintf(buf, len, "%s", p->devices);
}

/* A copy of pv without the fields shards may differ in. */
static judge_provenance comparable(const judge_provenance *pv) {
    judge_provenance c = *pv;
    c.shard[0] = c.device[0] = c.driver[0] = c.vendor[0] = c.device_profile[0] = 0;
    c.n_kernel_fallbacks = 0;
    return c;
}

/* Records pv's device among the distinct ones. */
static void note_device(judge_predictions *p, const judge_provenance *pv) {
    char d[2100];
    snprintf(d, sizeof d, "%.1000s (%.1000s)", pv->device, pv->driver);
    if (strstr(p->devices, d)) return;
    size_t at = strlen(p->devices);
    snprintf(p->devices + at, sizeof p->devices - at, "%s%s", at ? "; " : "", d);
}

/* Checks a provenance line of file f against the first one. */
static int check_provenance(judge_predictions *p, int f, int line, const judge_provenance *pv, judge_shard *shard,
                            char *err, size_t errlen) {
    char why[256];
    if (judge_shard_parse(pv->shard[0] ? pv->shard : "1/1", shard, why, sizeof why))
        return snprintf(err, errlen, "%s:%d: provenance shard '%.32s' is not K/N", p->names[f], line, pv->shard), -1;
    note_device(p, pv);
    if (p->first_file < 0) {
        p->first = *pv;
        p->first_file = f;
        return 0;
    }
    judge_shard first;
    judge_shard_parse(p->first.shard[0] ? p->first.shard : "1/1", &first, why, sizeof why);
    if (first.n != shard->n)
        return snprintf(err, errlen, "%s:%d: shard %d/%d, but %s has shard %d/%d: the files come from runs split "
                        "in different ways", p->names[f], line, shard->k, shard->n, p->names[p->first_file], first.k,
                        first.n), -1;
    judge_provenance a = comparable(&p->first), b = comparable(pv);
    char diff[3000];
    if (judge_provenance_diff(&a, &b, diff, sizeof diff) > 0)
        return snprintf(err, errlen, "%s:%d and %s hold results of different setups (%s): a report would mix them",
                        p->names[f], line, p->names[p->first_file], diff), -1;
    return 0;
}

static int add(judge_predictions *p, const judge_result *r, int f) {
    int at = judge_idset_get(p->ids, r->id);
    if (at >= 0) { /* the same file: a later line replaces (as a resumed run writes) */
        free_result(&p->items[at].r);
        p->items[at].r = *r;
        return 0;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 256;
        pred *it = realloc(p->items, sizeof *it * (size_t)cap);
        if (!it) return -1;
        p->items = it;
        p->cap = cap;
    }
    if (judge_idset_add(p->ids, r->id, p->n, NULL) < 0) return -1;
    p->items[p->n++] = (pred){*r, f};
    return 0;
}

/* Reads file f's lines from buf[0, len). */
static int parse_file(judge_predictions *p, int f, const char *buf, size_t len, char *err, size_t errlen) {
    const char *name = p->names[f];
    judge_shard shard = {0, 0};
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;
        const char *s = buf + pos;
        line++;
        pos = end + 1;
        if (!nl)
            return snprintf(err, errlen, "%s:%d: the last line has no newline: a run still writing the file, or one "
                            "killed mid-line (run that shard again to complete it)", name, line), -1;
        if (n == 0) continue;
        char why[512];
        judge_provenance pv;
        int is_prov = judge_provenance_parse(s, n, &pv, why, sizeof why);
        if (is_prov < 0) return snprintf(err, errlen, "%s:%d: %s", name, line, why), -1;
        if (is_prov == 1) {
            if (check_provenance(p, f, line, &pv, &shard, err, errlen)) return -1;
            continue;
        }
        judge_result r;
        if (judge_result_parse(s, n, &r, why, sizeof why))
            return snprintf(err, errlen, "%s:%d: not a phi3vk result line (%s)", name, line, why), -1;
        int at = judge_idset_get(p->ids, r.id), rc = 0;
        if (shard.n == 0)
            rc = snprintf(err, errlen, "%s:%d: a result before any provenance line (an older phi3vk wrote it, or it is "
                          "not a classify --out file): the results' model and prompt are unknown", name, line);
        else if (at >= 0 && p->items[at].file != f)
            rc = snprintf(err, errlen, "%s:%d: id '%.64s' is also in %s: the files overlap (the same shard twice, or "
                          "runs of different splits)", name, line, r.id, p->names[p->items[at].file]);
        else if (shard.n > 1 && judge_shard_of(r.id, shard.n) != shard.k)
            rc = snprintf(err, errlen, "%s:%d: id '%.64s' belongs to shard %d/%d, but the file's provenance says "
                          "shard %d/%d", name, line, r.id, judge_shard_of(r.id, shard.n), shard.n, shard.k, shard.n);
        else if (add(p, &r, f))
            rc = snprintf(err, errlen, "out of memory");
        if (rc) {
            free_result(&r);
            return -1;
        }
    }
    return 0;
}

static judge_predictions *create(const char *const *names, int n, char *err, size_t errlen) {
    judge_predictions *p = calloc(1, sizeof *p);
    if (p) p->first_file = -1;
    if (!p || !(p->ids = judge_idset_create()) || !(p->names = calloc((size_t)(n > 0 ? n : 1), sizeof *p->names))) {
        judge_predictions_destroy(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++, p->n_files++)
        if (!(p->names[i] = strdup(names[i]))) {
            judge_predictions_destroy(p);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    return p;
}

judge_predictions *judge_predictions_parse(const char *const *bufs, const size_t *lens, const char *const *names, int n,
                                           char *err, size_t errlen) {
    judge_predictions *p = create(names, n, err, errlen);
    for (int f = 0; p && f < n; f++)
        if (parse_file(p, f, bufs[f], lens[f], err, errlen)) {
            judge_predictions_destroy(p);
            return NULL;
        }
    return p;
}

/* The whole file at path, malloc'ed; NULL with err. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)), NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *b = cap < MAX_FILE ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            snprintf(err, errlen, "%s: %s", path, cap < MAX_FILE ? "out of memory" : "larger than 4 GiB");
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

judge_predictions *judge_predictions_load(const char *const *paths, int n, char *err, size_t errlen) {
    judge_predictions *p = create(paths, n, err, errlen);
    for (int f = 0; p && f < n; f++) {
        size_t len;
        char *buf = read_file(paths[f], &len, err, errlen);
        if (!buf || parse_file(p, f, buf, len, err, errlen)) {
            free(buf);
            judge_predictions_destroy(p);
            return NULL;
        }
        free(buf);
    }
    return p;
}

/* Appends an id to a list of at most MAX_LISTED. */
static void list_id(char *buf, size_t len, int *count, const char *id) {
    if ((*count)++ >= MAX_LISTED) return;
    size_t at = strlen(buf);
    snprintf(buf + at, len - at, "%s'%.64s'", at ? ", " : "", id);
}

int judge_predictions_cover(const judge_predictions *p, const judge_dataset *ds, const int *idx, int n,
                            judge_run_result *results, char *err, size_t errlen) {
    char missing[1024] = "", changed[1024] = "", extra[1024] = "";
    int n_missing = 0, n_changed = 0, n_extra = 0;
    memset(results, 0, sizeof *results * (size_t)(n > 0 ? n : 0));
    judge_idset *known = judge_idset_create();
    if (!known) return snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0; i < ds->n; i++)
        if (judge_idset_add(known, ds->items[i].id, i, NULL) < 0) {
            judge_idset_destroy(known);
            return snprintf(err, errlen, "out of memory"), -1;
        }
    for (int i = 0; i < p->n; i++)
        if (judge_idset_get(known, p->items[i].r.id) < 0) list_id(extra, sizeof extra, &n_extra, p->items[i].r.id);
    judge_idset_destroy(known);
    for (int i = 0; i < n; i++) {
        const judge_item *it = &ds->items[idx[i]];
        int at = judge_idset_get(p->ids, it->id);
        if (at < 0) {
            list_id(missing, sizeof missing, &n_missing, it->id);
            continue;
        }
        const judge_result *r = &p->items[at].r;
        char sha[65];
        judge_sha256_hex(it->text, it->text_len, sha);
        if (r->text_sha256[0] && strcmp(sha, r->text_sha256)) {
            list_id(changed, sizeof changed, &n_changed, it->id);
            continue;
        }
        judge_result *d = &results[i].r;
        *d = *r;
        d->id = it->id;
        d->reason = r->reason ? strdup(r->reason) : NULL;
        d->error = r->error ? strdup(r->error) : NULL;
        results[i].done = results[i].resumed = 1;
        if ((r->reason && !d->reason) || (r->error && !d->error)) {
            judge_run_results_free(results, n);
            return snprintf(err, errlen, "out of memory"), -1;
        }
    }
    if (!n_missing && !n_changed && !n_extra) return 0;
    judge_run_results_free(results, n);
    size_t at = 0;
    err[0] = 0;
    if (n_missing)
        at += (size_t)snprintf(err + at, errlen - at, "%d of the %d items have no result in the predictions: %s%s (a "
                               "shard missing or unfinished?)", n_missing, n, missing, n_missing > MAX_LISTED ? ", ..." : "");
    if (n_changed && at < errlen)
        at += (size_t)snprintf(err + at, errlen - at, "%s%d results were made for another text than the labelled "
                               "file's: %s%s", at ? "; " : "", n_changed, changed, n_changed > MAX_LISTED ? ", ..." : "");
    if (n_extra && at < errlen)
        snprintf(err + at, errlen - at, "%s%d results are for ids the labelled file does not have: %s%s (predictions "
                 "of another dataset?)", at ? "; " : "", n_extra, extra, n_extra > MAX_LISTED ? ", ..." : "");
    return -1;
}
