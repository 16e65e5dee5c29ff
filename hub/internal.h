/* hub/internal.h: helpers shared by the hub/ sources; not part of the public API. */
#ifndef PHI3VK_HUB_INTERNAL_H
#define PHI3VK_HUB_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "util/sha256.h"

/* snprintf into err (no-op when err is NULL or errlen 0). */
void hub_set_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* snprintf into out; fails with "path too long" when it does not fit. */
int hub_join(char *out, size_t len, char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* 1 if the environment variable is 1/on/yes/true (any case), as huggingface_hub reads flags. */
int hub_env_true(const char *name);
/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
int hub_home_dir(char *out, size_t len, char *err, size_t errlen);

/* 1 if s can name a file in blobs/: 1-128 of [A-Za-z0-9._-], not starting with '.'. */
int hub_etag_ok(const char *s);

/* ---- HTTP (libcurl) ---- */

typedef struct hub_http hub_http; /* one curl handle + auth + timeouts */

/* What the Hub said, gathered over all responses of one request (redirects included). */
typedef struct hub_http_resp {
    long status;              /* status of the last response */
    long first_status;        /* status of the first response (302 for LFS files on the Hub) */
    int curl_code;            /* CURLcode of the transfer; 0 = completed */
    char curl_error[256];     /* curl's message when curl_code != 0 */
    char etag[160];           /* ETag of the first response, without W/ and quotes */
    char linked_etag[160];    /* X-Linked-Etag (LFS: the sha256), without quotes */
    int64_t linked_size;      /* X-Linked-Size (LFS: the real size); -1 if absent */
    char repo_commit[64];     /* X-Repo-Commit */
    char error_code[64];      /* X-Error-Code ("RepoNotFound", "RevisionNotFound", "GatedRepo", ...) */
    char error_message[256];  /* X-Error-Message */
    int64_t content_length;   /* Content-Length of the last response; -1 if absent */
    int64_t range_start;      /* Content-Range start of the last response; -1 if absent */
    char *body;               /* GET-to-memory body, or the start of an error body; owned, NUL-terminated */
    size_t body_len;
} hub_http_resp;

/* Receives downloaded bytes; returns 0 to go on, -1 to abort (with err filled). */
typedef struct hub_sink {
    int fd;                   /* the .incomplete file, positioned at offset */
    uint64_t offset;          /* bytes in the file before this request (the Range start) */
    uint64_t limit;           /* abort when the file would grow past this; 0 = no limit */
    int size_unknown;         /* limit is the --max-file-size cap, not the file's listed size */
    util_sha256 *sha;         /* hashed as written; NULL: no hashing */
    void (*on_bytes)(void *user, uint64_t file_bytes, uint64_t new_bytes); /* optional progress */
    void *user;
    char err[512];            /* why the sink aborted */
} hub_sink;

#define HUB_MIN_SPEED 1000 /* bytes/s: slower than this for timeout_s aborts a transfer */

/* Makes a client. token NULL or "" sends no Authorization. timeout_s: connect
 * timeout and low-speed abort (< HUB_MIN_SPEED for that long). */
hub_http *hub_http_create(const char *token, int timeout_s, char *err, size_t errlen);
/* Every request from now on ends by deadline (a CLOCK_MONOTONIC time in
 * seconds, see util_now_s; 0: none), whatever the server sends. */
void hub_http_set_deadline(hub_http *h, double deadline);
void hub_http_destroy(hub_http *h);
/* GET url into resp->body (at most max_body bytes, else fails), following
 * redirects, with a total time limit of timeout_s. Fails only when curl
 * fails (unreachable, timeout); any HTTP status returns 0. */
int hub_http_get(hub_http *h, const char *url, size_t max_body, hub_http_resp *resp, char *err, size_t errlen);
/* HEAD url without following redirects (the Hub's headers live on the 302). */
int hub_http_head(hub_http *h, const char *url, hub_http_resp *resp, char *err, size_t errlen);
/* GET url following redirects, from byte sink->offset on (Range when > 0),
 * writing a 200/206 body into sink (a 200 to a Range request truncates the
 * file and restarts the hash). Always returns 0 with resp filled (curl_code
 * != 0 means the transfer broke), except -1 when the sink aborted. */
int hub_http_download(hub_http *h, const char *url, hub_sink *sink, hub_http_resp *resp, char *err,
                      size_t errlen);
/* Frees resp->body; leaves resp reusable. */
void hub_http_resp_free(hub_http_resp *resp);

#endif
