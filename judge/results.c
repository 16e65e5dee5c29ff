/* Resumable JSONL results and progress; the durability argument is in
 * results.h. */
#include "judge/results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "judge/dataset.h"
#include "judge/idset.h"
#include "judge/provenance.h"
#include "util/time.h"
#include "util/utf8.h"

#define SYNC_INTERVAL_S 1.0

/* ---- one line ------------------------------------------------------------- */

/* Length of the UTF-8 sequence a lead byte announces (1 for invalid leads). */
static size_t seq_len(unsigned char c) {
    if (c >= 0xF0) return 4;
    if (c >= 0xE0) return 3;
    if (c >= 0xC0) return 2;
    return 1;
}

char *judge_utf8_sanitize(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t k = seq_len((unsigned char)s[i]);
        if (i + k <= n && util_utf8_valid(s + i, k)) {
            memcpy(out + w, s + i, k);
            w += k;
            i += k;
        } else {
            memcpy(out + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
        }
    }
    out[w] = 0;
    return out;
}

void judge_format_p(double p, char *out, size_t len) {
    if (isfinite(p)) snprintf(out, len, "%.6g", p);
    else snprintf(out, len, "null");
}

char *judge_result_line(const judge_result *res, size_t *len) {
    char *reason = res->reason ? judge_utf8_sanitize(res->reason) : NULL;
    cJSON *o = cJSON_CreateObject();
    char *text = NULL, *line = NULL;
    if (!o || (res->reason && !reason)) goto done;
    char p[32], ms[32];
    judge_format_p(res->p_toxic, p, sizeof p);
    snprintf(ms, sizeof ms, "%.1f", isfinite(res->ms) && fabs(res->ms) < 1e15 ? res->ms : 0.0);
    int ok = cJSON_AddStringToObject(o, "id", res->id) != NULL;
    ok &= cJSON_AddStringToObject(o, "label", judge_label_name(res->label)) != NULL;
    ok &= cJSON_AddRawToObject(o, "p_toxic", p) != NULL;
    ok &= (reason ? cJSON_AddStringToObject(o, "reason", reason) : cJSON_AddNullToObject(o, "reason")) != NULL;
    ok &= cJSON_AddNumberToObject(o, "prompt_tokens", res->prompt_tokens) != NULL;
    ok &= cJSON_AddRawToObject(o, "ms", ms) != NULL;
    if (res->text_sha256[0]) ok &= cJSON_AddStringToObject(o, "text_sha256", res->text_sha256) != NULL;
    if (res->label == JUDGE_ERROR) ok &= cJSON_AddStringToObject(o, "error", res->error ? res->error : "?") != NULL;
    if (res->truncated) ok &= cJSON_AddTrueToObject(o, "truncated") != NULL;
    ok &= cJSON_AddNumberToObject(o, "schema_version", JUDGE_SCHEMA_VERSION) != NULL;
    for (int k = 0; ok && k < res->n_keep; k++) ok &= cJSON_AddRawToObject(o, res->keep_names[k], res->keep_values[k]) != NULL;
    if (!ok || !(text = cJSON_PrintUnformatted(o))) goto done;
    size_t n = strlen(text);
    line = malloc(n + 2);
    if (!line) goto done;
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = 0;
    if (len) *len = n + 1;
done:
    free(reason);
    cJSON_free(text);
    cJSON_Delete(o);
    return line;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* 1 when s is 64 lowercase hex digits. */
static int is_sha256(const char *s) { return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64; }

int judge_result_parse(const char *line, size_t len, judge_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (judge_json_nul_escape(line, len) >= 0) {
        snprintf(err, errlen, "\\u0000 (a NUL character) in a string");
        return -1;
    }
    cJSON *o = cJSON_ParseWithLength(line, len);
    const char *why = NULL;
    char idnum[32];
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(o, "label");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p_toxic");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(o, "prompt_tokens");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "ms");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(o, "text_sha256");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *trunc = cJSON_GetObjectItemCaseSensitive(o, "truncated");
    const char *id_text = NULL;
    if (!cJSON_IsObject(o)) why = "not a JSON object";
    else if (cJSON_IsString(id)) id_text = id->valuestring;
    else if (cJSON_IsNumber(id) && fabs(id->valuedouble) < 9007199254740992.0 &&
             id->valuedouble == (double)(long long)id->valuedouble) {
        /* Hand-written files may use numeric ids; results name them as text. */
        snprintf(idnum, sizeof idnum, "%lld", (long long)id->valuedouble);
        id_text = idnum;
    } else why = "no string \"id\"";
    if (!why && !id_text[0]) why = "empty \"id\"";
    if (!why && (!cJSON_IsString(label) || judge_label_parse(label->valuestring, &out->label)))
        why = "\"label\" is not \"toxic\", \"non-toxic\" or \"unparsable\"";
    if (!why && p && !cJSON_IsNull(p) && !cJSON_IsNumber(p)) why = "\"p_toxic\" is not a number or null";
    if (!why && reason && !cJSON_IsNull(reason) && !cJSON_IsString(reason)) why = "\"reason\" is not a string or null";
    if (!why && tokens && !cJSON_IsNumber(tokens)) why = "\"prompt_tokens\" is not a number";
    if (!why && ms && !cJSON_IsNumber(ms)) why = "\"ms\" is not a number";
    if (!why && sha && !(cJSON_IsString(sha) && is_sha256(sha->valuestring))) why = "\"text_sha256\" is not 64 hex digits";
    if (!why && error && !cJSON_IsNull(error) && !cJSON_IsString(error)) why = "\"error\" is not a string or null";
    if (!why && out->label == JUDGE_ERROR && !cJSON_IsString(error)) why = "\"label\" is \"error\" without an \"error\" string";
    if (!why && trunc && !cJSON_IsBool(trunc)) why = "\"truncated\" is not true or false";
    if (why) {
        snprintf(err, errlen, "%s", why);
        cJSON_Delete(o);
        return -1;
    }
    out->p_toxic = cJSON_IsNumber(p) ? p->valuedouble : NAN;
    /* Clamped: a cast of an out-of-range double to int is undefined. */
    out->prompt_tokens = tokens ? (int)fmax(0, fmin(tokens->valuedouble, 2147483647.0)) : 0;
    out->ms = ms ? ms->valuedouble : 0;
    out->truncated = cJSON_IsTrue(trunc);
    if (sha) memcpy(out->text_sha256, sha->valuestring, 65);
    char *id_copy = dup_str(id_text);
    char *reason_copy = cJSON_IsString(reason) ? dup_str(reason->valuestring) : NULL;
    char *error_copy = out->label == JUDGE_ERROR ? dup_str(error->valuestring) : NULL;
    cJSON_Delete(o);
    if (!id_copy || (cJSON_IsString(reason) && !reason_copy) || (out->label == JUDGE_ERROR && !error_copy)) {
        free(id_copy);
        free(reason_copy);
        free(error_copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->id = id_copy;
    out->reason = reason_copy;
    out->error = error_copy;
    return 0;
}

/* ---- the file ------------------------------------------------------------- */

struct judge_results {
    char path[1024];
    int fd;                 /* -1 when not open */
    off_t size;             /* bytes in the file: all whole lines */
    judge_result *items;    /* (n) id and reason owned */
    int n, cap;
    judge_idset *ids;       /* id -> index in items */
    size_t dropped;         /* bytes of a torn last line cut at open */
    double last_sync;       /* util_now_s() of the last fdatasync */
    judge_provenance prov;  /* the last provenance line */
    int has_prov;
};

static void free_result(judge_result *res);

/* 1 when a new result for res->id may replace old: old is an error, or was
 * for another text. */
static int replaces(const judge_result *old, const judge_result *res) {
    return old->label == JUDGE_ERROR || (old->text_sha256[0] && res->text_sha256[0] && strcmp(old->text_sha256, res->text_sha256));
}

/* Keeps res (taking its strings): a new id is added, a known one replaced. */
static int store(judge_results *r, judge_result *res) {
    int at = judge_idset_get(r->ids, res->id);
    if (at >= 0) {
        free_result(&r->items[at]);
        r->items[at] = *res;
        return 0;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 256;
        judge_result *items = realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) return -1;
        r->items = items;
        r->cap = cap;
    }
    if (judge_idset_add(r->ids, res->id, r->n, NULL) != 1) return -1;
    r->items[r->n++] = *res;
    return 0;
}

static void free_result(judge_result *res) {
    free((char *)res->id);
    free((char *)res->reason);
    free((char *)res->error);
}

static int write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Takes a POSIX write lock on the whole file; fails if another process has one. */
static int lock_file(judge_results *r, char *err, size_t errlen) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(r->fd, F_SETLK, &fl) == 0) return 0;
    if (errno == EACCES || errno == EAGAIN) {
        struct flock who = fl;
        long pid = fcntl(r->fd, F_GETLK, &who) == 0 ? (long)who.l_pid : 0;
        snprintf(err, errlen, "%s: being written by another process (pid %ld); one run per output file", r->path,
                 pid);
    } else {
        snprintf(err, errlen, "%s: cannot lock: %s", r->path, strerror(errno));
    }
    return -1;
}

/* 1 when s[0, n) can be the start of a line phi3vk writes (a prefix of, or
 * starting with, {"id": or {"provenance":): what a crash inside write()
 * leaves. */
static int torn_line(const char *s, size_t n) {
    static const char *const starts[] = {"{\"id\":", "{\"provenance\":"};
    for (int i = 0; i < 2; i++) {
        size_t k = strlen(starts[i]);
        if (!memcmp(s, starts[i], n < k ? n : k)) return 1;
    }
    return 0;
}

/* One whole line: a provenance line, or a result that is new or replaces
 * its id's earlier one. */
static int load_line(judge_results *r, const char *s, size_t n, int line, int is_tail, char *err, size_t errlen) {
    char why[128];
    judge_result res;
    int prov = judge_provenance_parse(s, n, &r->prov, why, sizeof why);
    if (prov == 1) {
        r->has_prov = 1;
        return 0;
    }
    if (prov == 0 && judge_result_parse(s, n, &res, why, sizeof why) == 0) {
        int first = judge_idset_get(r->ids, res.id);
        if (first >= 0 && !replaces(&r->items[first], &res)) {
            snprintf(err, errlen, "%s:%d: id '%.64s' is already in the file; remove one of the two lines", r->path, line,
                     res.id);
            free_result(&res);
            return -1;
        }
        if (store(r, &res)) {
            free_result(&res);
            snprintf(err, errlen, "%s: out of memory", r->path);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "%s:%d: %snot a phi3vk result line (%s); fix or remove it, or use another output file", r->path, line,
             is_tail ? "the last line, without a newline, is " : "", why);
    return -1;
}

/* Reads every whole line of buf[0, n) into r; cuts a torn tail or completes
 * a whole one. Changes nothing in the file when it fails. */
static int load_lines(judge_results *r, const char *buf, size_t n, char *err, size_t errlen) {
    int line = 0;
    for (size_t pos = 0; pos < n;) {
        const char *nl = memchr(buf + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - buf) : n;
        line++;
        int blank = 1;
        for (size_t i = pos; i < end; i++) blank &= buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r';
        if (!nl && !blank) {
            judge_result probe;
            char why[128];
            int whole = judge_result_parse(buf + pos, end - pos, &probe, why, sizeof why) == 0;
            if (whole) free_result(&probe);
            if (!whole && torn_line(buf + pos, end - pos)) { /* a crash inside write(): cut it */
                if (ftruncate(r->fd, (off_t)pos)) {
                    snprintf(err, errlen, "%s: cannot cut the torn last line: %s", r->path, strerror(errno));
                    return -1;
                }
                r->dropped = n - pos;
                r->size = (off_t)pos;
                return 0;
            }
            if (load_line(r, buf + pos, end - pos, line, 1, err, errlen)) return -1; /* not ours: never cut */
            if (write_all(r->fd, "\n", 1)) {
                snprintf(err, errlen, "%s: cannot complete the last line: %s", r->path, strerror(errno));
                return -1;
            }
            r->size = (off_t)n + 1;
            return 0;
        }
        if (!nl && end > pos) { /* a tail of spaces: nothing to keep */
            if (ftruncate(r->fd, (off_t)pos)) {
                snprintf(err, errlen, "%s: cannot cut the blank last line: %s", r->path, strerror(errno));
                return -1;
            }
            r->dropped = n - pos;
            r->size = (off_t)pos;
            return 0;
        }
        if (!blank && load_line(r, buf + pos, end - pos, line, 0, err, errlen)) return -1;
        pos = end + 1;
    }
    r->size = (off_t)n;
    return 0;
}

judge_results *judge_results_open(const char *path, char *err, size_t errlen) {
    judge_results *r = calloc(1, sizeof *r);
    char *buf = NULL;
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->fd = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    r->ids = judge_idset_create();
    if (!r->ids) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    r->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        snprintf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
        goto fail;
    }
    if (lock_file(r, err, errlen)) goto fail;
    struct stat st;
    if (fstat(r->fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    size_t n = (size_t)st.st_size, got = 0;
    buf = malloc(n + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory (%zu bytes)", path, n);
        goto fail;
    }
    while (got < n) {
        ssize_t k = pread(r->fd, buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != n) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    if (load_lines(r, buf, n, err, errlen)) goto fail;
    free(buf);
    r->last_sync = util_now_s();
    return r;
fail:
    free(buf);
    judge_results_close(r, NULL, 0);
    return NULL;
}

int judge_results_count(const judge_results *r) { return r->n; }

const judge_provenance *judge_results_provenance(const judge_results *r) { return r->has_prov ? &r->prov : NULL; }

/* Appends line[0, len) whole, or restores the file's size. */
static int append_line(judge_results *r, const char *line, size_t len, char *err, size_t errlen) {
    if (write_all(r->fd, line, len)) {
        int e = errno;
        /* Leave no partial line behind for the next append to run into. */
        int cut = ftruncate(r->fd, r->size);
        snprintf(err, errlen, "%s: write failed: %s%s", r->path, strerror(e),
                 cut ? " (and the partial line could not be removed)" : "");
        return -1;
    }
    r->size += (off_t)len;
    return 0;
}

int judge_results_set_provenance(judge_results *r, const judge_provenance *p, char *err, size_t errlen) {
    char diff[64];
    if (r->has_prov && judge_provenance_diff(&r->prov, p, diff, sizeof diff) == 0) return 0;
    size_t len;
    char *line = judge_provenance_line(p, &len);
    if (!line) {
        snprintf(err, errlen, "%s: out of memory", r->path);
        return -1;
    }
    int rc = append_line(r, line, len, err, errlen);
    free(line);
    if (rc == 0) r->prov = *p, r->has_prov = 1;
    return rc;
}

size_t judge_results_dropped_bytes(const judge_results *r) { return r->dropped; }

const judge_result *judge_results_get(const judge_results *r, const char *id) {
    int i = judge_idset_get(r->ids, id);
    return i >= 0 ? &r->items[i] : NULL;
}

int judge_results_append(judge_results *r, const judge_result *res, char *err, size_t errlen) {
    if (!res->id || !res->id[0] || !util_utf8_valid(res->id, strlen(res->id))) {
        snprintf(err, errlen, "%s: result id is empty or not valid UTF-8", r->path);
        return -1;
    }
    int at = judge_idset_get(r->ids, res->id);
    if (at >= 0 && !replaces(&r->items[at], res)) {
        snprintf(err, errlen, "%s: id '%.64s' is already in the file", r->path, res->id);
        return -1;
    }
    size_t len = 0;
    char *line = judge_result_line(res, &len);
    judge_result copy = *res;
    copy.id = dup_str(res->id);
    copy.reason = res->reason ? dup_str(res->reason) : NULL;
    copy.error = res->label == JUDGE_ERROR ? dup_str(res->error ? res->error : "?") : NULL;
    if (!line || !copy.id || (res->reason && !copy.reason) || (res->label == JUDGE_ERROR && !copy.error)) {
        free(line);
        free_result(&copy);
        snprintf(err, errlen, "%s: out of memory", r->path);
        return -1;
    }
    int wrc = append_line(r, line, len, err, errlen);
    free(line);
    if (wrc) {
        free_result(&copy);
        return -1;
    }
    if (store(r, &copy)) {
        free_result(&copy);
        snprintf(err, errlen, "%s: out of memory", r->path);
        return -1;
    }
    double now = util_now_s();
    if (now - r->last_sync >= SYNC_INTERVAL_S) {
        /* Power-loss durability only; kill -9 cannot lose written data. */
        if (fdatasync(r->fd) && errno != EINVAL) {
            snprintf(err, errlen, "%s: fdatasync failed: %s", r->path, strerror(errno));
            return -1;
        }
        r->last_sync = now;
    }
    return 0;
}

int judge_results_close(judge_results *r, char *err, size_t errlen) {
    if (!r) return 0;
    int rc = 0;
    if (r->fd >= 0) {
        if (fdatasync(r->fd) && errno != EINVAL) rc = -1;
        if (close(r->fd)) rc = -1; /* also releases the lock */
        if (rc && err) snprintf(err, errlen, "%s: cannot flush to disk: %s", r->path, strerror(errno));
    }
    for (int i = 0; i < r->n; i++) free_result(&r->items[i]);
    free(r->items);
    judge_idset_destroy(r->ids);
    free(r);
    return rc;
}

/* ---- progress ------------------------------------------------------------- */


void judge_progress_start(judge_progress *p, int total, int resumed) {
    memset(p, 0, sizeof *p);
    p->total = total;
    p->resumed = resumed;
    p->start = util_now_s();
    p->last_draw = -1e9;
}

void judge_progress_add(judge_progress *p, const judge_result *res) {
    p->done++;
    p->tokens += res->prompt_tokens;
    p->unparsable += res->label == JUDGE_UNPARSABLE;
    p->errors += res->label == JUDGE_ERROR;
    p->truncated += res->truncated != 0;
}

/* H:MM:SS or M:SS. */
static void format_duration(double s, char *buf, size_t len) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* Items per second with three significant digits where they matter: a CPU
 * device classifies ~0.1 items/s, a GPU hundreds. */
static void format_rate(double r, char *buf, size_t len) {
    snprintf(buf, len, r >= 10 || r <= 0 ? "%.1f" : r >= 1 ? "%.2f" : "%.3f", r);
}

void judge_progress_format(const judge_progress *p, double now, char *buf, size_t len) {
    enum { WIDTH = 20 };
    double elapsed = now - p->start;
    double rate = (elapsed > 0 && p->done > 0) ? p->done / elapsed : 0;
    int pct = p->total > 0 ? (int)(100.0 * p->done / p->total) : 100;
    char bar[WIDTH + 1];
    int fill = p->total > 0 ? (int)((double)WIDTH * p->done / p->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '-';
    bar[WIDTH] = 0;
    char eta[32] = "--:--";
    if (rate > 0) format_duration((p->total - p->done) / rate, eta, sizeof eta);
    char r[32];
    format_rate(rate, r, sizeof r);
    snprintf(buf, len, "%*d/%d %3d%% [%s] %6s items/s  ETA %s", p->total > 0 ? (int)log10(p->total) + 1 : 1,
             p->done, p->total, pct, bar, r, eta);
}

void judge_summary_format(const judge_progress *p, double now, char *buf, size_t len) {
    double elapsed = now - p->start;
    char resumed[48] = "";
    if (p->resumed) snprintf(resumed, sizeof resumed, " (%d more already done)", p->resumed);
    char r[32];
    format_rate(elapsed > 0 ? p->done / elapsed : 0.0, r, sizeof r);
    int k = snprintf(buf, len, "%d item%s%s, %lld prompt tokens, %.1f s, %s items/s, %d unparsable", p->done,
                     p->done == 1 ? "" : "s", resumed, p->tokens, elapsed, r, p->unparsable);
    if (p->errors && k >= 0 && (size_t)k < len) k += snprintf(buf + k, len - (size_t)k, ", %d skipped (too long)", p->errors);
    if (p->truncated && k >= 0 && (size_t)k < len) k += snprintf(buf + k, len - (size_t)k, ", %d truncated", p->truncated);
    if (p->changed && k >= 0 && (size_t)k < len) snprintf(buf + k, len - (size_t)k, ", %d run again (text changed)", p->changed);
}

void judge_progress_draw(judge_progress *p, FILE *tty, int force) {
    double now = util_now_s();
    if (!force && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    char line[160];
    judge_progress_format(p, now, line, sizeof line);
    fprintf(tty, "\r%s\x1b[K", line);
    fflush(tty);
}

void judge_progress_clear(FILE *tty) {
    fputs("\r\x1b[K", tty);
    fflush(tty);
}
