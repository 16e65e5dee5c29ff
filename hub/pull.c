/* `phi3vk pull`: list a revision's files, download the selected ones into the
 * Hugging Face cache (blobs/<etag> + snapshot symlinks + refs), resuming and verifying. */
#include "hub/hub.h"
#include "hub/internal.h"
#include "util/time.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define API_BODY_MAX (64u << 20) /* the file list of a huge repo is a few MB */
#define PATH_BYTES 4608

typedef struct pull_state {
    const hub_pull_opts *opts;
    hub_http *http;
    hub_repo_id id;
    char endpoint[1024];
    char repo_dir[4096];
    char sha[41];
    int token_sent;             /* 1 if an Authorization header goes out (for error messages) */
    hub_revision_info info;
    int *sel;                   /* indices into info.files of the selected files */
    int n_sel;
    int *cached;                /* per selected file: already complete in blobs/ */
    hub_progress prog;          /* running totals for the callback */
    uint64_t done_files;        /* bytes of the selected files finished so far */
    double last_emit;           /* monotonic seconds of the last PROGRESS event */
    int deadline_s;             /* --deadline in effect */
    double deadline;            /* util_now_s() by which the pull ends */
} pull_state;


static void emit(pull_state *st, hub_event ev, int k, uint64_t file_done, const char *msg) {
    if (!st->opts->progress) return;
    const hub_file *f = &st->info.files[st->sel[k]];
    st->prog.event = ev;
    st->prog.file = f->name;
    st->prog.file_index = k;
    st->prog.file_done = file_done;
    st->prog.file_size = f->size_known ? f->size : 0;
    st->prog.total_done = st->done_files + (ev == HUB_EV_FILE_DONE || ev == HUB_EV_FILE_CACHED ? 0 : file_done);
    st->prog.message = msg;
    st->opts->progress(st->opts->progress_user, &st->prog);
}

/* ---- small file-system helpers ---- */

/* mkdir -p for the folder part of path (everything before the last '/'). */
static int mkdir_parents(const char *path, char *err, size_t errlen) {
    char buf[PATH_BYTES];
    if (hub_join(buf, sizeof buf, err, errlen, "%s", path)) return -1;
    char *last = strrchr(buf, '/');
    if (!last || last == buf) return 0;
    *last = 0;
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                hub_set_err(err, errlen, "cannot create folder %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

/* Writes text to path atomically: a temp file in the same folder, fsync, rename. */
static int write_atomic(const char *path, const char *text, char *err, size_t errlen) {
    char tmp[PATH_BYTES];
    if (mkdir_parents(path, err, errlen) ||
        hub_join(tmp, sizeof tmp, err, errlen, "%s.tmp.%ld", path, (long)getpid()))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
        hub_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        hub_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* snapshots/<sha>/<name> -> ../../blobs/<etag> (one more "../" per folder in name),
 * replaced atomically when it exists with another target. */
static int link_snapshot(pull_state *st, const hub_file *f, const char *etag, char *err, size_t errlen) {
    char link[PATH_BYTES], target[PATH_BYTES], tmp[PATH_BYTES], cur[PATH_BYTES];
    if (hub_join(link, sizeof link, err, errlen, "%s/snapshots/%s/%s", st->repo_dir, st->sha, f->name)) return -1;
    size_t pos = 0;
    target[0] = 0;
    int depth = 2;
    for (const char *p = f->name; *p; p++) depth += *p == '/';
    for (int i = 0; i < depth && pos + 3 < sizeof target; i++, pos += 3) memcpy(target + pos, "../", 4);
    if (hub_join(target + pos, sizeof target - pos, err, errlen, "blobs/%s", etag)) return -1;
    ssize_t n = readlink(link, cur, sizeof cur - 1);
    if (n >= 0) {
        cur[n] = 0;
        if (!strcmp(cur, target)) return 0;
    }
    if (mkdir_parents(link, err, errlen) ||
        hub_join(tmp, sizeof tmp, err, errlen, "%s.tmp.%ld", link, (long)getpid()))
        return -1;
    unlink(tmp);
    if (symlink(target, tmp) != 0) {
        hub_set_err(err, errlen, "cannot create symlink %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (rename(tmp, link) != 0) {
        hub_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, link, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- URLs ---- */

/* Appends s percent-encoded (RFC 3986 unreserved kept, and '/' when keep_slash). */
static int url_append(char *url, size_t len, const char *s, int keep_slash) {
    size_t n = strlen(url);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c < 128 && isalnum(c)) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (n + (plain ? 1 : 3) >= len) return -1;
        if (plain) url[n++] = (char)c;
        else n += (size_t)snprintf(url + n, 4, "%%%02X", c);
    }
    url[n] = 0;
    return 0;
}

static int file_url(const pull_state *st, const hub_file *f, char *url, size_t len, char *err, size_t errlen) {
    if (hub_join(url, len, err, errlen, "%s/%s/%s/resolve/%s/", st->endpoint, st->id.owner, st->id.name, st->sha))
        return -1;
    if (url_append(url, len, f->name, 1)) {
        hub_set_err(err, errlen, "URL for %s too long", f->name);
        return -1;
    }
    return 0;
}

/* Puts a printable excerpt of an error body (or X-Error-Message) into out. */
static void body_excerpt(const hub_http_resp *r, char *out, size_t len) {
    const char *src = r->error_message[0] ? r->error_message : r->body ? r->body : "";
    size_t n = 0;
    for (; *src && n + 1 < len && n < 200; src++) out[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : ' ';
    out[n] = 0;
}

/* The message for a Hub answer that is not a success; what says what was asked for. */
static void http_failure(const pull_state *st, const char *url, const hub_http_resp *r, const char *what,
                         char *err, size_t errlen) {
    char ex[256];
    body_excerpt(r, ex, sizeof ex);
    const char *code = r->error_code;
    long s = r->status;
    if (!strcmp(code, "RevisionNotFound") || (!strcmp(code, "EntryNotFound") && !what))
        hub_set_err(err, errlen, "revision '%s' not found in %s/%s (HTTP %ld from %s)", st->id.revision,
                    st->id.owner, st->id.name, s, url);
    else if (!strcmp(code, "GatedRepo") || s == 403)
        hub_set_err(err, errlen,
                    "%s/%s is gated or forbidden (HTTP %ld%s%s): accept its terms on the Hub, then set HF_TOKEN to a "
                    "token with access",
                    st->id.owner, st->id.name, s, ex[0] ? ": " : "", ex);
    else if (what && s == 404 && strcmp(code, "RepoNotFound"))
        hub_set_err(err, errlen, "%s not found in %s/%s@%s (HTTP 404 from %s)", what, st->id.owner, st->id.name,
                    st->sha, url);
    else if (s == 401 || s == 404)
        hub_set_err(err, errlen,
                    "repository %s/%s not found on %s (HTTP %ld): check the name; if it is private or gated, "
                    "%s",
                    st->id.owner, st->id.name, st->endpoint, s,
                    st->token_sent ? "the token sent (HF_TOKEN) lacks access to it"
                                   : "set HF_TOKEN to a token with access");
    else
        hub_set_err(err, errlen, "%s %s: HTTP %ld%s%s", what ? "downloading" : "listing", url, s, ex[0] ? ": " : "",
                    ex);
}

/* ---- step 1: the file list ---- */

static int fetch_listing(pull_state *st, char *err, size_t errlen) {
    char url[2048];
    if (hub_join(url, sizeof url, err, errlen, "%s/api/models/%s/%s/revision/", st->endpoint, st->id.owner,
                 st->id.name) ||
        url_append(url, sizeof url - 16, st->id.revision, 0))
        return -1;
    strcat(url, "?blobs=true");
    hub_http_resp r;
    if (hub_http_get(st->http, url, API_BODY_MAX, &r, err, errlen)) {
        char why[1024];
        hub_set_err(why, sizeof why, "%s", err);
        hub_set_err(err, errlen, "cannot reach %s to list %s/%s: %s", st->endpoint, st->id.owner, st->id.name, why);
        return -1;
    }
    int rc = -1;
    if (r.status != 200) http_failure(st, url, &r, NULL, err, errlen);
    else rc = hub_parse_revision_info(r.body ? r.body : "", r.body_len, url, &st->info, err, errlen);
    hub_http_resp_free(&r);
    if (rc == 0) memcpy(st->sha, st->info.sha, 41);
    if (rc == 0 && hub_is_commit_sha(st->id.revision) && strcmp(st->sha, st->id.revision)) {
        hub_set_err(err, errlen, "%s: asked for commit %s, the Hub answered %s", url, st->id.revision, st->sha);
        rc = -1;
    }
    return rc;
}

/* For a file the listing gave no blob id or size (a Hub mirror without ?blobs=true):
 * HEAD its resolve URL, as huggingface_hub does, for ETag / X-Linked-Etag / X-Linked-Size. */
static int fill_from_head(pull_state *st, hub_file *f, char *err, size_t errlen) {
    char url[PATH_BYTES];
    hub_http_resp r;
    if (file_url(st, f, url, sizeof url, err, errlen) || hub_http_head(st->http, url, &r, err, errlen)) return -1;
    if (r.status != 200 && (r.status < 300 || r.status > 399)) {
        http_failure(st, url, &r, f->name, err, errlen);
        return -1;
    }
    const char *etag = r.linked_etag[0] ? r.linked_etag : r.etag;
    if (!f->etag[0]) {
        if (!hub_etag_ok(etag)) {
            hub_set_err(err, errlen, "HEAD %s: no usable ETag / X-Linked-Etag (got '%.80s')", url, etag);
            return -1;
        }
        memcpy(f->etag, etag, strlen(etag) + 1); /* hub_etag_ok: at most 128 bytes */
    }
    if (!f->sha256[0] && strlen(r.linked_etag) == 64 && strspn(r.linked_etag, "0123456789abcdef") == 64)
        memcpy(f->sha256, r.linked_etag, 65); /* LFS: the etag is the content's sha256 */
    if (!f->size_known && (r.linked_size >= 0 || (r.status == 200 && r.content_length >= 0))) {
        f->size = (uint64_t)(r.linked_size >= 0 ? r.linked_size : r.content_length);
        f->size_known = 1;
    }
    return 0;
}

/* Selects files, completes their metadata, and sees which are already cached. */
static int plan(pull_state *st, hub_pull_result *res, char *err, size_t errlen) {
    const hub_revision_info *info = &st->info;
    st->sel = calloc((size_t)info->n_files + 1, sizeof *st->sel);
    st->cached = calloc((size_t)info->n_files + 1, sizeof *st->cached);
    if (!st->sel || !st->cached) {
        hub_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < info->n_files; i++)
        if (hub_file_selected(info->files[i].name, st->opts->include)) st->sel[st->n_sel++] = i;
    if (st->n_sel == 0) {
        char list[512] = "";
        for (int i = 0; i < info->n_files && strlen(list) < 400; i++)
            hub_set_err(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", info->files[i].name);
        hub_set_err(err, errlen, "%s/%s@%s: no file matches %s (the repo has %d: %s%s)", st->id.owner, st->id.name,
                    st->id.revision,
                    st->opts->include && st->opts->include[0] ? "the --include patterns"
                                                              : "the model set (config, safetensors, tokenizer)",
                    info->n_files, list[0] ? list : "nothing", strlen(list) >= 400 ? ", ..." : "");
        return -1;
    }
    for (int k = 0; k < st->n_sel; k++) {
        hub_file *f = &info->files[st->sel[k]];
        if ((!f->etag[0] || !f->size_known) && fill_from_head(st, f, err, errlen)) return -1;
        char blob[PATH_BYTES], inc[PATH_BYTES];
        struct stat sb;
        if (hub_join(blob, sizeof blob, err, errlen, "%s/blobs/%s", st->repo_dir, f->etag) ||
            hub_join(inc, sizeof inc, err, errlen, "%s.incomplete", blob))
            return -1;
        uint64_t cap = st->opts->max_file_bytes ? st->opts->max_file_bytes : HUB_DEFAULT_MAX_FILE;
        if (f->size_known && f->size > cap) {
            hub_set_err(err, errlen, "%s is listed at %llu bytes, more than the %llu of --max-file-size", f->name,
                        (unsigned long long)f->size, (unsigned long long)cap);
            return -1;
        }
        res->total_bytes += f->size;
        if (stat(blob, &sb) == 0 && S_ISREG(sb.st_mode) && (!f->size_known || (uint64_t)sb.st_size == f->size)) {
            st->cached[k] = 1;
            res->n_cached++;
            continue;
        }
        uint64_t have = 0;
        if (stat(inc, &sb) == 0 && (uint64_t)sb.st_size <= f->size) have = (uint64_t)sb.st_size;
        res->need_bytes += f->size - have;
    }
    res->n_files = st->n_sel;
    return 0;
}

/* ---- step 2: one file ---- */

static void on_bytes(void *user, uint64_t file_bytes, uint64_t new_bytes) {
    pull_state *st = user;
    st->prog.downloaded += new_bytes;
    double t = util_now_s();
    if (t - st->last_emit < 0.1) return;
    st->last_emit = t;
    emit(st, HUB_EV_FILE_PROGRESS, st->prog.file_index, file_bytes, NULL);
}

/* Hashes the first n bytes already in fd (a resumed download) into sha. */
static int hash_prefix(int fd, uint64_t n, util_sha256 *sha) {
    enum { CHUNK = 1 << 20 };
    char *buf = n ? malloc(CHUNK) : NULL;
    if (n && !buf) return -1;
    for (uint64_t off = 0; off < n;) {
        size_t want = n - off < CHUNK ? (size_t)(n - off) : CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) {
            free(buf);
            return -1;
        }
        util_sha256_update(sha, buf, (size_t)got);
        off += (uint64_t)got;
    }
    free(buf);
    return 0;
}

/* Opens (creating) and locks blobs/<etag>.incomplete; returns the fd, its size in *have. */
static int open_incomplete(const char *inc, const hub_file *f, uint64_t *have, char *err, size_t errlen) {
    int fd = open(inc, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        hub_set_err(err, errlen, "cannot open %s: %s", inc, strerror(errno));
        return -1;
    }
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &lk) != 0) {
        hub_set_err(err, errlen, "%s is being downloaded by another process (%s is locked)", f->name, inc);
        close(fd);
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        hub_set_err(err, errlen, "cannot stat %s: %s", inc, strerror(errno));
        close(fd);
        return -1;
    }
    *have = (uint64_t)sb.st_size;
    if (f->size_known && *have > f->size) { /* longer than the file can be: not a prefix of it */
        if (ftruncate(fd, 0) != 0) {
            hub_set_err(err, errlen, "cannot truncate %s: %s", inc, strerror(errno));
            close(fd);
            return -1;
        }
        *have = 0;
    }
    return fd;
}

/* Checks what the Hub's headers say about the file against the listing. */
static int check_headers(const pull_state *st, const hub_file *f, const char *url, const hub_http_resp *r,
                         char *err, size_t errlen) {
    if (r->repo_commit[0] && strcmp(r->repo_commit, st->sha)) {
        hub_set_err(err, errlen, "%s: X-Repo-Commit %.64s, expected %s", url, r->repo_commit, st->sha);
        return -1;
    }
    if (f->sha256[0] && r->linked_etag[0] && strcmp(r->linked_etag, f->sha256)) {
        hub_set_err(err, errlen, "%s: X-Linked-Etag %.64s does not match the listed sha256 %s", url, r->linked_etag,
                    f->sha256);
        return -1;
    }
    if (f->size_known && r->linked_size >= 0 && (uint64_t)r->linked_size != f->size) {
        hub_set_err(err, errlen, "%s: X-Linked-Size %lld does not match the listed size %llu", url,
                    (long long)r->linked_size, (unsigned long long)f->size);
        return -1;
    }
    return 0;
}

/* Runs GETs (resuming) until the file is whole, the retries are spent, or the Hub refuses.
 * *have is the byte count in fd before and after. */
static int transfer(pull_state *st, int k, hub_file *f, int fd, uint64_t *have, util_sha256 *sha, const char *inc,
                    char *err, size_t errlen) {
    char url[PATH_BYTES], why[512] = "";
    int retries = st->opts->retries < 0 ? 3 : st->opts->retries;
    if (file_url(st, f, url, sizeof url, err, errlen)) return -1;
    for (int attempt = 0;; attempt++) {
        if (f->size_known && *have == f->size) return 0;
        if (util_now_s() >= st->deadline) {
            hub_set_err(err, errlen,
                        "downloading %s: the pull ran past its deadline of %d s (--deadline)%s%s; %llu bytes are kept "
                        "in %s: run the same command again to resume",
                        url, st->deadline_s, why[0] ? ", last: " : "", why, (unsigned long long)*have, inc);
            return -1;
        }
        if (attempt > 0) {
            if (attempt > retries) {
                hub_set_err(err, errlen,
                            "downloading %s broke (%s) after %d attempt%s; %llu of %llu bytes are kept in %s: run "
                            "the same command again to resume",
                            url, why, attempt, attempt == 1 ? "" : "s", (unsigned long long)*have,
                            (unsigned long long)f->size, inc);
                return -1;
            }
            emit(st, HUB_EV_FILE_RETRY, k, *have, why);
            double wait = 0.2 * (1 << (attempt < 5 ? attempt : 5));
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (lseek(fd, (off_t)*have, SEEK_SET) < 0) {
            hub_set_err(err, errlen, "cannot seek in %s: %s", inc, strerror(errno));
            return -1;
        }
        uint64_t cap = st->opts->max_file_bytes ? st->opts->max_file_bytes : HUB_DEFAULT_MAX_FILE;
        hub_sink sink = {.fd = fd, .offset = *have, .limit = f->size_known ? f->size : cap, .size_unknown = !f->size_known,
                         .sha = f->sha256[0] ? sha : NULL, .on_bytes = on_bytes, .user = st};
        hub_http_resp r;
        int rc = hub_http_download(st->http, url, &sink, &r, err, errlen);
        *have = sink.offset;
        if (rc) {
            hub_http_resp_free(&r);
            return -1;
        }
        if (r.status == 200 || r.status == 206) {
            if (check_headers(st, f, url, &r, err, errlen)) {
                hub_http_resp_free(&r);
                return -1;
            }
        }
        if (r.curl_code == 0 && (r.status == 200 || r.status == 206)) {
            hub_http_resp_free(&r);
            if (!f->size_known) return 0; /* nothing to compare with: the server's end is the end */
            hub_set_err(why, sizeof why, "connection closed at byte %llu of %llu", (unsigned long long)*have,
                     (unsigned long long)f->size);
            continue;
        }
        if (r.curl_code != 0) {
            hub_set_err(why, sizeof why, "%s", r.curl_error);
        } else if (r.status == 416) { /* our Range was past its end: start over */
            if (ftruncate(fd, 0) != 0) {
                hub_set_err(err, errlen, "cannot truncate %s: %s", inc, strerror(errno));
                hub_http_resp_free(&r);
                return -1;
            }
            *have = 0;
            util_sha256_init(sha);
            hub_set_err(why, sizeof why, "HTTP 416 to a resumed request; restarting the file");
        } else if (r.status == 429 || r.status >= 500) {
            hub_set_err(why, sizeof why, "HTTP %ld", r.status);
        } else {
            http_failure(st, url, &r, f->name, err, errlen);
            hub_http_resp_free(&r);
            return -1;
        }
        hub_http_resp_free(&r);
    }
}

/* Downloads (or finds) one selected file and links it into the snapshot. */
static int pull_file(pull_state *st, int k, char *err, size_t errlen) {
    hub_file *f = &st->info.files[st->sel[k]];
    char blob[PATH_BYTES], inc[PATH_BYTES];
    if (hub_join(blob, sizeof blob, err, errlen, "%s/blobs/%s", st->repo_dir, f->etag) ||
        hub_join(inc, sizeof inc, err, errlen, "%s.incomplete", blob))
        return -1;
    struct stat sb;
    /* Re-checked here: an earlier file of this pull may have had the same contents. */
    if (!st->cached[k] && stat(blob, &sb) == 0 && S_ISREG(sb.st_mode) && f->size_known &&
        (uint64_t)sb.st_size == f->size)
        st->cached[k] = 1;
    if (st->cached[k]) {
        if (link_snapshot(st, f, f->etag, err, errlen)) return -1;
        st->done_files += f->size;
        emit(st, HUB_EV_FILE_CACHED, k, f->size, NULL);
        return 0;
    }
    uint64_t have = 0;
    int fd = open_incomplete(inc, f, &have, err, errlen);
    if (fd < 0) return -1;
    util_sha256 sha;
    util_sha256_init(&sha);
    if (f->sha256[0] && hash_prefix(fd, have, &sha) != 0) {
        hub_set_err(err, errlen, "cannot read %s: %s", inc, strerror(errno));
        goto fail;
    }
    st->last_emit = util_now_s();
    emit(st, HUB_EV_FILE_START, k, have, NULL);
    if (transfer(st, k, f, fd, &have, &sha, inc, err, errlen)) goto fail;
    if (f->size_known && have != f->size) {
        hub_set_err(err, errlen, "%s: got %llu bytes, the Hub lists %llu", f->name, (unsigned long long)have,
                    (unsigned long long)f->size);
        goto fail;
    }
    if (f->sha256[0]) {
        char got[65];
        util_sha256_final(&sha, got);
        if (strcmp(got, f->sha256)) {
            /* Corrupt bytes are useless to resume from: drop them so a rerun starts clean. */
            hub_set_err(err, errlen,
                        "%s: sha256 mismatch: the Hub lists %s, the %llu bytes downloaded hash to %s; removed %s, "
                        "run the command again",
                        f->name, f->sha256, (unsigned long long)have, got, inc);
            unlink(inc);
            goto fail;
        }
    }
    if (fsync(fd) != 0) {
        hub_set_err(err, errlen, "cannot flush %s: %s", inc, strerror(errno));
        goto fail;
    }
    if (rename(inc, blob) != 0) {
        hub_set_err(err, errlen, "cannot rename %s to %s: %s", inc, blob, strerror(errno));
        goto fail;
    }
    close(fd);
    if (!f->size_known) f->size = have, f->size_known = 1;
    if (link_snapshot(st, f, f->etag, err, errlen)) return -1;
    st->done_files += f->size;
    emit(st, HUB_EV_FILE_DONE, k, f->size, NULL);
    return 0;
fail:
    close(fd);
    return -1;
}

/* ---- the whole pull ---- */

/* Finds the token: opts->token, else $HF_TOKEN, else the file `huggingface-cli login` writes. */
static int find_token(const hub_pull_opts *o, char *out, size_t len, char *err, size_t errlen) {
    const char *src = "--token";
    out[0] = 0;
    const char *given = o->token ? o->token : getenv("HF_TOKEN") && getenv("HF_TOKEN")[0] ? getenv("HF_TOKEN") : NULL;
    if (given) {
        if (!o->token) src = "HF_TOKEN";
        /* never echoed: a message may end up in a log */
        if (strlen(given) >= len) {
            hub_set_err(err, errlen, "the token from %s is %zu bytes long, more than the %zu a token can be", src,
                        strlen(given), len - 1);
            return -1;
        }
        memcpy(out, given, strlen(given) + 1);
    } else {
        char path[PATH_BYTES];
        const char *p = getenv("HF_TOKEN_PATH");
        if (p && p[0]) {
            if (hub_join(path, sizeof path, err, errlen, "%s", p)) return -1;
        } else if (hub_home_dir(path, sizeof path - 8, NULL, 0) == 0) {
            strcat(path, "/token");
        } else {
            return 0;
        }
        FILE *f = fopen(path, "rb");
        if (!f) return 0; /* not logged in: anonymous */
        size_t n = fread(out, 1, len - 1, f);
        int more = n == len - 1 && fgetc(f) != EOF;
        out[n] = 0;
        fclose(f);
        src = "the token file";
        if (more) {
            memset(out, 0, len);
            hub_set_err(err, errlen, "the token file %s is longer than the %zu bytes a token can be", path, len - 1);
            return -1;
        }
    }
    size_t n = strlen(out);
    while (n > 0 && isspace((unsigned char)out[n - 1])) out[--n] = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] <= 0x20 || out[i] >= 0x7f) {
            hub_set_err(err, errlen, "the token from %s has a space or non-printable character at byte %zu", src, i);
            out[0] = 0;
            return -1;
        }
    return 0;
}

static int setup(pull_state *st, const hub_pull_opts *o, char *err, size_t errlen) {
    char spec[512];
    if (!o || !o->repo) {
        hub_set_err(err, errlen, "hub_pull: no repo given");
        return -1;
    }
    if (hub_parse_repo_id(o->repo, &st->id, err, errlen)) return -1;
    if (o->revision) {
        hub_set_err(spec, sizeof spec, "%s/%s@%s", st->id.owner, st->id.name, o->revision);
        if (hub_parse_repo_id(spec, &st->id, err, errlen)) return -1;
    }
    if (hub_env_true("HF_HUB_OFFLINE")) {
        hub_set_err(err, errlen, "cannot download %s/%s: HF_HUB_OFFLINE is set (unset it to allow network access)",
                    st->id.owner, st->id.name);
        return -1;
    }
    if (o->endpoint) {
        if (strncmp(o->endpoint, "http://", 7) && strncmp(o->endpoint, "https://", 8)) {
            hub_set_err(err, errlen, "endpoint '%.200s': expected an http:// or https:// URL", o->endpoint);
            return -1;
        }
        if (hub_join(st->endpoint, sizeof st->endpoint, err, errlen, "%s", o->endpoint)) return -1;
        for (size_t n = strlen(st->endpoint); n > 0 && st->endpoint[n - 1] == '/'; n--) st->endpoint[n - 1] = 0;
    } else if (hub_endpoint(st->endpoint, sizeof st->endpoint, err, errlen)) {
        return -1;
    }
    if (hub_repo_dir(o->cache_dir, &st->id, st->repo_dir, sizeof st->repo_dir, err, errlen)) return -1;
    char token[HUB_TOKEN_MAX + 1];
    if (find_token(o, token, sizeof token, err, errlen)) return -1;
    st->token_sent = token[0] != 0;
    st->http = hub_http_create(token, o->timeout_s, err, errlen);
    memset(token, 0, sizeof token);
    if (!st->http) return -1;
    st->deadline_s = o->deadline_s > 0 ? o->deadline_s : HUB_DEFAULT_DEADLINE_S;
    st->deadline = util_now_s() + st->deadline_s;
    hub_http_set_deadline(st->http, st->deadline);
    return 0;
}

/* Refuses a pull whose files would not fit: the bytes still to download
 * (res->need_bytes) against what the cache's file system has free for an
 * unprivileged user, keeping HUB_SPACE_MARGIN spare. Files of unknown size
 * count 0 (their cap is --max-file-size). */
static int check_space(const pull_state *st, const hub_pull_result *res, char *err, size_t errlen) {
    struct statvfs fs;
    char blobs[PATH_BYTES];
    if (hub_join(blobs, sizeof blobs, err, errlen, "%s/blobs", st->repo_dir)) return -1;
    if (statvfs(blobs, &fs) != 0) return 0; /* not knowable: the download reports a full disk itself */
    uint64_t avail = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    if (res->need_bytes + HUB_SPACE_MARGIN <= avail) return 0;
    char need[32], free_b[32];
    hub_format_bytes(res->need_bytes, need, sizeof need);
    hub_format_bytes(avail, free_b, sizeof free_b);
    hub_set_err(err, errlen, "%s/%s@%s needs %s more in %s, but its file system has %s free: free some space, or "
                "pull into another cache (--cache-dir, HF_HUB_CACHE)", st->id.owner, st->id.name, st->id.revision,
                need, st->repo_dir, free_b);
    return -1;
}

int hub_pull(const hub_pull_opts *opts, hub_pull_result *res, char *err, size_t errlen) {
    pull_state st = {.opts = opts};
    hub_pull_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    int rc = -1;
    if (setup(&st, opts, err, errlen) || fetch_listing(&st, err, errlen) || plan(&st, res, err, errlen)) goto done;
    memcpy(res->sha, st.sha, 41);
    if (hub_join(res->snapshot, sizeof res->snapshot, err, errlen, "%s/snapshots/%s", st.repo_dir, st.sha))
        goto done;
    if (opts->dry_run) {
        rc = 0;
        goto done;
    }
    char dir[PATH_BYTES];
    if (hub_join(dir, sizeof dir, err, errlen, "%s/blobs/x", st.repo_dir) || mkdir_parents(dir, err, errlen) ||
        hub_join(dir, sizeof dir, err, errlen, "%s/x", res->snapshot) || mkdir_parents(dir, err, errlen))
        goto done;
    if (check_space(&st, res, err, errlen)) goto done;
    st.prog.n_files = st.n_sel;
    for (int k = 0; k < st.n_sel; k++) st.prog.total_size += st.info.files[st.sel[k]].size;
    for (int k = 0; k < st.n_sel; k++)
        if (pull_file(&st, k, err, errlen)) goto done;
    /* The ref goes last: until every file is in, the revision does not resolve. */
    if (!hub_is_commit_sha(st.id.revision)) {
        char ref[PATH_BYTES];
        if (hub_join(ref, sizeof ref, err, errlen, "%s/refs/%s", st.repo_dir, st.id.revision) ||
            write_atomic(ref, st.sha, err, errlen))
            goto done;
    }
    res->downloaded_bytes = st.prog.downloaded;
    rc = 0;
done:
    res->downloaded_bytes = st.prog.downloaded;
    hub_http_destroy(st.http);
    hub_revision_info_free(&st.info);
    free(st.sel);
    free(st.cached);
    return rc;
}
