/* libcurl wrapper for the Hub: one easy handle, the Hub's headers, resumable downloads into a file. */
#include "hub/internal.h"
#include "util/time.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ERROR_BODY_MAX 4096 /* bytes of an error response kept for the message */

struct hub_http {
    CURL *curl;
    struct curl_slist *headers; /* Authorization, when a token is set */
    int timeout_s;
    double deadline;            /* util_now_s() by which every request ends; 0: none */
};


void hub_http_set_deadline(hub_http *h, double deadline) { h->deadline = deadline; }

/* The request's total time limit: max_s (0: none), and never past the deadline. */
static void set_time_limit(hub_http *h, long max_s) {
    long ms = max_s > 0 ? max_s * 1000 : 0;
    if (h->deadline > 0) {
        double left = (h->deadline - util_now_s()) * 1000.0;
        long dl = left < 1 ? 1 : left > 1e12 ? (long)1e12 : (long)left;
        if (!ms || dl < ms) ms = dl;
    }
    if (ms) curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, ms);
}

hub_http *hub_http_create(const char *token, int timeout_s, char *err, size_t errlen) {
    hub_http *h = calloc(1, sizeof *h);
    if (!h) {
        hub_set_err(err, errlen, "out of memory");
        return NULL;
    }
    h->timeout_s = timeout_s > 0 ? timeout_s : 30;
    /* curl_global_init is idempotent per process when paired; easy_init would do it implicitly. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        hub_set_err(err, errlen, "curl_global_init failed");
        free(h);
        return NULL;
    }
    h->curl = curl_easy_init();
    if (!h->curl) {
        hub_set_err(err, errlen, "curl_easy_init failed");
        goto fail;
    }
    if (token && token[0]) {
        size_t n = strlen(token) + 32;
        char *line = malloc(n);
        if (!line) {
            hub_set_err(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(line, n, "Authorization: Bearer %s", token);
        h->headers = curl_slist_append(NULL, line);
        free(line);
        if (!h->headers) {
            hub_set_err(err, errlen, "out of memory");
            goto fail;
        }
    }
    return h;
fail:
    hub_http_destroy(h);
    return NULL;
}

void hub_http_destroy(hub_http *h) {
    if (!h) return;
    curl_slist_free_all(h->headers);
    if (h->curl) curl_easy_cleanup(h->curl);
    curl_global_cleanup();
    free(h);
}

void hub_http_resp_free(hub_http_resp *resp) {
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* One request in flight: where headers and body go. */
typedef struct xfer {
    hub_http_resp *resp;
    int n_responses;   /* status lines seen (one per redirect hop) */
    size_t max_body;   /* memory mode: cap */
    size_t cap;
    int too_big;
    hub_sink *sink;    /* download mode when non-NULL */
    int sink_failed;
    int checked;       /* n_responses value whose first body chunk was checked */
} xfer;

/* Copies a header value, dropping W/ and quotes (how huggingface_hub normalises ETags). */
static void copy_etag(char *dst, size_t len, const char *v, size_t n) {
    if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    if (n >= len) n = len - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static void copy_value(char *dst, size_t len, const char *v, size_t n) {
    if (n >= len) n = len - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int64_t parse_i64(const char *v, size_t n) {
    int64_t x = 0;
    size_t i = 0;
    if (n == 0) return -1;
    for (; i < n && isdigit((unsigned char)v[i]); i++) {
        if (x > (INT64_MAX - 9) / 10) return -1;
        x = x * 10 + (v[i] - '0');
    }
    return i == n ? x : -1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    hub_http_resp *r = x->resp;
    size_t n = size * nmemb, len = n;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n')) len--;
    if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
        /* A new response (first, or after a redirect): per-response fields restart. */
        const char *sp = memchr(data, ' ', len);
        long status = 0;
        if (sp && (size_t)(sp - data) + 4 <= len) status = (long)parse_i64(sp + 1, 3);
        if (status < 100 || status > 999) status = 0;
        r->status = status;
        if (x->n_responses++ == 0) r->first_status = status;
        r->content_length = -1;
        r->range_start = -1;
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
#define IS(name) (nlen == strlen(name) && !strncasecmp(data, name, nlen))
    if (IS("ETag")) {
        if (x->n_responses == 1) copy_etag(r->etag, sizeof r->etag, v, vlen);
    } else if (IS("X-Linked-Etag")) {
        copy_etag(r->linked_etag, sizeof r->linked_etag, v, vlen);
    } else if (IS("X-Linked-Size")) {
        r->linked_size = parse_i64(v, vlen);
    } else if (IS("X-Repo-Commit")) {
        copy_value(r->repo_commit, sizeof r->repo_commit, v, vlen);
    } else if (IS("X-Error-Code")) {
        copy_value(r->error_code, sizeof r->error_code, v, vlen);
    } else if (IS("X-Error-Message")) {
        copy_value(r->error_message, sizeof r->error_message, v, vlen);
    } else if (IS("Content-Length")) {
        r->content_length = parse_i64(v, vlen);
    } else if (IS("Content-Range") && vlen > 6 && !strncasecmp(v, "bytes ", 6)) {
        size_t k = 6;
        while (k < vlen && isdigit((unsigned char)v[k])) k++;
        r->range_start = parse_i64(v + 6, k - 6);
    }
#undef IS
    return n;
}

/* Keeps up to limit bytes of body in resp->body (NUL-terminated); returns 0 if it overflowed. */
static int keep_body(xfer *x, const char *data, size_t n, size_t limit) {
    hub_http_resp *r = x->resp;
    if (r->body_len + n > limit) {
        n = limit > r->body_len ? limit - r->body_len : 0;
        x->too_big = 1;
    }
    if (r->body_len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->body_len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            x->too_big = 1;
            return 0;
        }
        r->body = b;
        x->cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return !x->too_big;
}

static size_t on_body_memory(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    size_t n = size * nmemb;
    return keep_body(x, data, n, x->max_body) ? n : 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_body_sink(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    hub_sink *s = x->sink;
    hub_http_resp *r = x->resp;
    size_t n = size * nmemb;
    if (r->status != 200 && r->status != 206) {
        if (r->status < 300 || r->status >= 400) keep_body(x, data, n, ERROR_BODY_MAX);
        return n; /* error bodies go to the message, never into the file */
    }
    int first_chunk = x->checked != x->n_responses;
    x->checked = x->n_responses;
    if (first_chunk && r->status == 200 && s->offset > 0) {
        /* The server ignored our Range: start the file (and its hash) over. */
        if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
            hub_set_err(s->err, sizeof s->err, "cannot truncate the partial download: %s", strerror(errno));
            x->sink_failed = 1;
            return 0;
        }
        if (s->sha) util_sha256_init(s->sha);
        s->offset = 0;
    }
    if (first_chunk && r->status == 206 && r->range_start != (int64_t)s->offset) {
        hub_set_err(s->err, sizeof s->err, "asked for bytes from %llu on, the server sent a range starting at %lld",
                 (unsigned long long)s->offset, (long long)r->range_start);
        x->sink_failed = 1;
        return 0;
    }
    if (s->limit && s->offset + n > s->limit) {
        if (s->size_unknown)
            hub_set_err(s->err, sizeof s->err,
                        "the Hub gave no size for this file and it passed %llu bytes, the --max-file-size cap",
                        (unsigned long long)s->limit);
        else
            hub_set_err(s->err, sizeof s->err, "the server sent more than the %llu bytes the file should have",
                        (unsigned long long)s->limit);
        x->sink_failed = 1;
        return 0;
    }
    if (write_all(s->fd, data, n) != 0) {
        hub_set_err(s->err, sizeof s->err, "write failed: %s", strerror(errno));
        x->sink_failed = 1;
        return 0;
    }
    if (s->sha) util_sha256_update(s->sha, data, n);
    s->offset += n;
    if (s->on_bytes) s->on_bytes(s->user, s->offset, n);
    return n;
}

/* Options every request shares; the caller sets method-specific ones after. */
static void common_opts(hub_http *h, const char *url, xfer *x) {
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "phi3vk/" PHI3VK_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)h->timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)HUB_MIN_SPEED);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->timeout_s);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    if (h->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
}

static void resp_init(hub_http_resp *r) {
    memset(r, 0, sizeof *r);
    r->linked_size = -1;
    r->content_length = -1;
    r->range_start = -1;
}

static int finish(hub_http_resp *r, CURLcode rc, const char *errbuf) {
    r->curl_code = (int)rc;
    if (rc != CURLE_OK)
        hub_set_err(r->curl_error, sizeof r->curl_error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return 0;
}

int hub_http_get(hub_http *h, const char *url, size_t max_body, hub_http_resp *resp, char *err, size_t errlen) {
    char errbuf[CURL_ERROR_SIZE] = {0};
    resp_init(resp);
    xfer x = {.resp = resp, .max_body = max_body};
    common_opts(h, url, &x);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
    set_time_limit(h, h->timeout_s);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body_memory);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
    CURLcode rc = curl_easy_perform(h->curl);
    if (x.too_big && resp->status >= 200 && resp->status < 300) {
        hub_set_err(err, errlen, "GET %s: response larger than %zu bytes", url, max_body);
        hub_http_resp_free(resp);
        return -1;
    }
    if (rc != CURLE_OK) {
        hub_set_err(err, errlen, "GET %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        hub_http_resp_free(resp);
        return -1;
    }
    return finish(resp, rc, errbuf);
}

int hub_http_head(hub_http *h, const char *url, hub_http_resp *resp, char *err, size_t errlen) {
    char errbuf[CURL_ERROR_SIZE] = {0};
    resp_init(resp);
    xfer x = {.resp = resp};
    common_opts(h, url, &x);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    set_time_limit(h, h->timeout_s);
    CURLcode rc = curl_easy_perform(h->curl);
    if (rc != CURLE_OK) {
        hub_set_err(err, errlen, "HEAD %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    return finish(resp, rc, errbuf);
}

int hub_http_download(hub_http *h, const char *url, hub_sink *sink, hub_http_resp *resp, char *err,
                      size_t errlen) {
    char errbuf[CURL_ERROR_SIZE] = {0}, range[48];
    resp_init(resp);
    xfer x = {.resp = resp, .sink = sink};
    common_opts(h, url, &x);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body_sink);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
    set_time_limit(h, 0);
    if (sink->offset > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)sink->offset);
        curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
    }
    CURLcode rc = curl_easy_perform(h->curl);
    if (x.sink_failed) {
        hub_set_err(err, errlen, "GET %s: %s", url, sink->err);
        return -1;
    }
    return finish(resp, rc, errbuf);
}
