/* Prometheus text for GET /metrics; see metrics.h. */
#include "serve/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const srv_endpoint_names[SRV_N_EP] = {"/v1/classify", "/v1/chat/completions", "/v1/completions",
                                                  "/v1/models", "/health", "/metrics", "other"};

#define MAX_STATUS 16
#define N_TIME_BUCKETS 14
#define N_BATCH_BUCKETS 8
static const double time_buckets[N_TIME_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60,  300};
static const double batch_buckets[N_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128};

typedef struct histogram {
    long long counts[N_TIME_BUCKETS + 1]; /* the last: +Inf only */
    long long n;
    double sum;
} histogram;

struct srv_metrics {
    pthread_mutex_t mu;
    struct {
        int status;
        long long n;
    } req[SRV_N_EP][MAX_STATUS];
    long long prompt, reused, generated;
    histogram ttft, batch, duration[SRV_N_EP];
};

srv_metrics *srv_metrics_create(void) {
    srv_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void srv_metrics_destroy(srv_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(histogram *h, const double *bounds, int nb, double v) {
    int i = 0;
    while (i < nb && v > bounds[i]) i++;
    h->counts[i]++;
    h->n++;
    h->sum += v;
}

void srv_metrics_request(srv_metrics *m, int ep, int status, double seconds) {
    if (ep < 0 || ep >= SRV_N_EP) ep = SRV_EP_OTHER;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < MAX_STATUS; i++)
        if (m->req[ep][i].status == status || m->req[ep][i].status == 0) {
            m->req[ep][i].status = status;
            m->req[ep][i].n++;
            break;
        }
    observe(&m->duration[ep], time_buckets, N_TIME_BUCKETS, seconds);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_tokens(srv_metrics *m, long long prompt, long long reused, long long generated) {
    pthread_mutex_lock(&m->mu);
    m->prompt += prompt;
    m->reused += reused;
    m->generated += generated;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_ttft(srv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->ttft, time_buckets, N_TIME_BUCKETS, seconds);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_step(srv_metrics *m, int n) {
    pthread_mutex_lock(&m->mu);
    observe(&m->batch, batch_buckets, N_BATCH_BUCKETS, n);
    pthread_mutex_unlock(&m->mu);
}

typedef struct out {
    char *buf;
    size_t len, cap;
    int oom;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = o->oom ? 0 : vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (o->oom || k < 0) return;
        if ((size_t)k < o->cap - o->len) {
            o->len += (size_t)k;
            return;
        }
        char *b = realloc(o->buf, o->cap * 2 + (size_t)k);
        if (!b) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = o->cap * 2 + (size_t)k;
    }
}

/* A histogram's _bucket, _sum and _count lines; labels "" or 'a="b",'. */
static void put_hist(out *o, const char *name, const char *labels, const histogram *h, const double *bounds, int nb) {
    long long cum = 0;
    for (int i = 0; i < nb; i++) {
        cum += h->counts[i];
        put(o, "%s_bucket{%sle=\"%g\"} %lld\n", name, labels, bounds[i], cum);
    }
    put(o, "%s_bucket{%sle=\"+Inf\"} %lld\n", name, labels, h->n);
    size_t k = strlen(labels);
    put(o, "%s_sum%s%.*s%s %.6f\n", name, k ? "{" : "", k ? (int)k - 1 : 0, labels, k ? "}" : "", h->sum);
    put(o, "%s_count%s%.*s%s %lld\n", name, k ? "{" : "", k ? (int)k - 1 : 0, labels, k ? "}" : "", h->n);
}

/* A label value with \ " and newline escaped, into buf. */
static void label_value(const char *s, char *buf, size_t len) {
    size_t at = 0;
    for (; *s && at + 3 < len; s++) {
        if (*s == '\\' || *s == '"') buf[at++] = '\\', buf[at++] = *s;
        else if (*s == '\n') buf[at++] = '\\', buf[at++] = 'n';
        else buf[at++] = *s;
    }
    buf[at] = 0;
}

char *srv_metrics_render(srv_metrics *m, const srv_gauges *g) {
    out o = {.cap = 8192};
    if (!(o.buf = malloc(o.cap))) return NULL;
    o.buf[0] = 0;
    pthread_mutex_lock(&m->mu);
    put(&o, "# HELP phi3vk_requests_total HTTP requests answered, by endpoint and status.\n"
            "# TYPE phi3vk_requests_total counter\n");
    for (int e = 0; e < SRV_N_EP; e++)
        for (int i = 0; i < MAX_STATUS && m->req[e][i].status; i++)
            put(&o, "phi3vk_requests_total{endpoint=\"%s\",status=\"%d\"} %lld\n", srv_endpoint_names[e],
                m->req[e][i].status, m->req[e][i].n);
    put(&o, "# HELP phi3vk_prompt_tokens_total Prompt tokens of finished requests.\n"
            "# TYPE phi3vk_prompt_tokens_total counter\nphi3vk_prompt_tokens_total %lld\n"
            "# HELP phi3vk_prompt_tokens_reused_total Prompt tokens taken from the KV cache (prefix reuse).\n"
            "# TYPE phi3vk_prompt_tokens_reused_total counter\nphi3vk_prompt_tokens_reused_total %lld\n"
            "# HELP phi3vk_generated_tokens_total Tokens generated.\n"
            "# TYPE phi3vk_generated_tokens_total counter\nphi3vk_generated_tokens_total %lld\n",
        m->prompt, m->reused, m->generated);
    put(&o, "# HELP phi3vk_batch_size Sequences in one engine step.\n# TYPE phi3vk_batch_size histogram\n");
    put_hist(&o, "phi3vk_batch_size", "", &m->batch, batch_buckets, N_BATCH_BUCKETS);
    put(&o, "# HELP phi3vk_time_to_first_token_seconds From submission to the first token (or classify result).\n"
            "# TYPE phi3vk_time_to_first_token_seconds histogram\n");
    put_hist(&o, "phi3vk_time_to_first_token_seconds", "", &m->ttft, time_buckets, N_TIME_BUCKETS);
    put(&o, "# HELP phi3vk_request_duration_seconds From the request to its whole response.\n"
            "# TYPE phi3vk_request_duration_seconds histogram\n");
    for (int e = 0; e < SRV_N_EP; e++) {
        if (!m->duration[e].n) continue;
        char labels[64];
        snprintf(labels, sizeof labels, "endpoint=\"%s\",", srv_endpoint_names[e]);
        put_hist(&o, "phi3vk_request_duration_seconds", labels, &m->duration[e], time_buckets, N_TIME_BUCKETS);
    }
    pthread_mutex_unlock(&m->mu);
    put(&o, "# HELP phi3vk_queue_depth Items waiting for a sequence.\n# TYPE phi3vk_queue_depth gauge\n"
            "phi3vk_queue_depth %d\n"
            "# HELP phi3vk_sequences_active Items in the engines' sequences.\n# TYPE phi3vk_sequences_active gauge\n"
            "phi3vk_sequences_active %d\n"
            "# HELP phi3vk_ready 1 when the model is loaded and requests are served.\n# TYPE phi3vk_ready gauge\n"
            "phi3vk_ready %d\n",
        g->queue_depth, g->active, g->ready);
    put(&o, "# HELP phi3vk_device_memory_bytes Device memory held, by device and kind.\n"
            "# TYPE phi3vk_device_memory_bytes gauge\n");
    for (int d = 0; d < g->n_devices && d < 16; d++) {
        char name[512];
        label_value(g->device_names[d] ? g->device_names[d] : "", name, sizeof name);
        put(&o, "phi3vk_device_memory_bytes{device=\"%d\",name=\"%s\",kind=\"weights\"} %llu\n", d, name,
            (unsigned long long)g->weights[d]);
        put(&o, "phi3vk_device_memory_bytes{device=\"%d\",name=\"%s\",kind=\"kv_cache_scratch\"} %llu\n", d, name,
            (unsigned long long)g->context[d]);
    }
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}
