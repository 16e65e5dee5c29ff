/* The HTTP daemon: socket, routing, limits, authentication, health,
 * metrics, start-up and shutdown; see serve.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "judge/classifier.h"
#include "serve/internal.h"
#include "serve/openai.h"
#include "util/sha256.h"
#include "util/time.h"

#define DEFAULT_QUEUE 256
#define DEFAULT_MAX_BODY (4u << 20)
#define DEFAULT_CONNECTIONS 512
#define IDLE_TIMEOUT_S 120
#define LOADING_RETRY_S 5

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* ---- responses ------------------------------------------------------------ */

enum MHD_Result srv_respond(srv_conn *c, struct MHD_Connection *con, int status, char *body, int retry_after) {
    if (!body) {
        status = 500;
        body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                      "\"code\":null}}");
        if (!body) return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", c->endpoint == SRV_EP_METRICS && status == 200
                                                   ? "text/plain; version=0.0.4; charset=utf-8"
                                                   : "application/json");
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    c->status = status;
    enum MHD_Result rc = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result srv_respond_error(srv_conn *c, struct MHD_Connection *con, const srv_error *e) {
    int retry = e->status == 503 ? (load(&c->s->ready) ? 1 : LOADING_RETRY_S) : 0;
    return srv_respond(c, con, e->status, srv_error_json(e), retry);
}

/* ---- authentication --------------------------------------------------------- */

/* 1 when the request carries "Authorization: Bearer KEY": the sha256 of
 * what came is compared with the key's in constant time. */
static int authorized(const srv_server *s, struct MHD_Connection *con) {
    if (!s->has_key) return 1;
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char got[65];
    util_sha256 sh;
    util_sha256_init(&sh);
    if (h && !strncmp(h, "Bearer ", 7)) util_sha256_update(&sh, h + 7, strlen(h + 7));
    util_sha256_final(&sh, got);
    volatile unsigned char diff = !(h && !strncmp(h, "Bearer ", 7));
    for (int i = 0; i < 64; i++) diff |= (unsigned char)(got[i] ^ s->api_key_sha[i]);
    return diff == 0;
}

/* ---- routing ------------------------------------------------------------------ */

static int endpoint_of(const char *url) {
    for (int i = 0; i < SRV_EP_OTHER; i++)
        if (!strcmp(url, srv_endpoint_names[i])) return i;
    return SRV_EP_OTHER;
}

static enum MHD_Result health(srv_server *s, srv_conn *c, struct MHD_Connection *con) {
    if (load(&s->draining)) return srv_respond(c, con, 503, strdup("{\"status\":\"shutting down\"}"), 0);
    if (!load(&s->ready)) return srv_respond(c, con, 503, strdup("{\"status\":\"loading\"}"), LOADING_RETRY_S);
    return srv_respond(c, con, 200, strdup("{\"status\":\"ok\"}"), 0);
}

static enum MHD_Result metrics(srv_server *s, srv_conn *c, struct MHD_Connection *con) {
    srv_gauges g = {.ready = load(&s->ready)};
    srv_sched_counts(s->sched, &g.queue_depth, &g.active);
    if (g.ready) {
        g.n_devices = srv_sched_engines(s->sched);
        for (int i = 0; i < g.n_devices && i < 16; i++)
            srv_sched_device(s->sched, i, &g.device_names[i], &g.weights[i], &g.context[i]);
    }
    return srv_respond(c, con, 200, srv_metrics_render(s->metrics, &g), 0);
}

/* The whole request is in c: answers it. */
static enum MHD_Result dispatch(srv_server *s, srv_conn *c, struct MHD_Connection *con, const char *method) {
    srv_error e = {0};
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    int want_post = c->endpoint <= SRV_EP_COMPLETIONS;
    if (c->endpoint == SRV_EP_OTHER) {
        srv_fail(&e, 404, "invalid_request_error", NULL, "unknown_url", "no endpoint here (see GET /v1/models, "
                 "POST /v1/chat/completions, /v1/completions, /v1/classify, GET /health, /metrics)");
        return srv_respond_error(c, con, &e);
    }
    if (want_post ? !post : !get) {
        srv_fail(&e, 405, "invalid_request_error", NULL, NULL, "use %s for this endpoint", want_post ? "POST" : "GET");
        return srv_respond_error(c, con, &e);
    }
    if (c->endpoint == SRV_EP_HEALTH) return health(s, c, con);
    if (!authorized(s, con)) {
        srv_fail(&e, 401, "authentication_error", NULL, "invalid_api_key",
                 "missing or wrong API key: send \"Authorization: Bearer KEY\"");
        return srv_respond_error(c, con, &e);
    }
    if (c->endpoint == SRV_EP_METRICS) return metrics(s, c, con);
    if (load(&s->draining)) {
        srv_fail(&e, 503, "server_error", NULL, NULL, "the server is shutting down");
        return srv_respond_error(c, con, &e);
    }
    if (!load(&s->ready)) {
        srv_fail(&e, 503, "server_error", NULL, NULL, "the model is loading (GET /health says when it is ready)");
        return srv_respond_error(c, con, &e);
    }
    if (c->endpoint == SRV_EP_MODELS) return srv_respond(c, con, 200, srv_models_json(s->model_name, s->created), 0);
    if (c->too_big) {
        srv_fail(&e, 413, "invalid_request_error", NULL, NULL, "the request body is larger than %zu bytes",
                 s->o.max_body);
        return srv_respond_error(c, con, &e);
    }
    if (c->endpoint == SRV_EP_CLASSIFY) return srv_handle_classify(s, c, con);
    return srv_handle_generate(s, c, con, c->endpoint == SRV_EP_CHAT);
}

/* MHD's access handler: called at the headers, for each piece of the body,
 * and once more when the body is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv_server *s = cls;
    srv_conn *c = *con_cls;
    (void)version;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        c->s = s;
        c->endpoint = endpoint_of(url);
        c->t0 = util_now_s();
        *con_cls = c;
        pthread_mutex_lock(&s->mu);
        s->in_flight++;
        pthread_mutex_unlock(&s->mu);
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body) { /* answered before the body is read */
            srv_error e = {0};
            srv_fail(&e, 413, "invalid_request_error", NULL, NULL, "the request body (Content-Length %.20s) is larger "
                     "than %zu bytes", cl, s->o.max_body);
            return srv_respond_error(c, con, &e);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!c->too_big && c->len + *upload_size > s->o.max_body) c->too_big = 1;
        if (c->too_big && (c->len += *upload_size) > 64 * s->o.max_body) return MHD_NO; /* no end in sight */
        if (!c->too_big) {
            if (c->len + *upload_size + 1 > c->cap) {
                size_t cap = (c->len + *upload_size + 1) * 2;
                if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
                char *b = realloc(c->body, cap);
                if (!b) return MHD_NO;
                c->body = b;
                c->cap = cap;
            }
            memcpy(c->body + c->len, upload, *upload_size);
            c->len += *upload_size;
            c->body[c->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(s, c, con, method);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srv_server *s = cls;
    srv_conn *c = *con_cls;
    (void)con;
    if (!c) return;
    if (s->o.verbose)
        fprintf(stderr, "phi3vk serve: %s %d %.3f s%s\n", srv_endpoint_names[c->endpoint], c->status,
                util_now_s() - c->t0, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    if (!c->counted) srv_metrics_request(s->metrics, c->endpoint, c->status ? c->status : 499, util_now_s() - c->t0);
    free(c->body);
    free(c);
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    if (--s->in_flight == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    const srv_server *s = cls;
    if (!s->o.verbose) return;
    fputs("phi3vk serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- lifecycle ------------------------------------------------------------------- */

/* A listening socket on host:port; the port chosen in *port. -1 with err. */
static int listen_on(const char *host, int port, int *family, int *bound, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int r = getaddrinfo(host, ps, &hints, &ai);
    if (r) return snprintf(err, errlen, "--host %s: %s", host, gai_strerror(r)), -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        int one = 1;
        if (fd < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        *family = a->ai_family;
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

srv_server *srv_server_start(const srv_opts *o, char *err, size_t errlen) {
    srv_server *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, errlen, "out of memory"), NULL;
    s->o = *o;
    s->listen_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
    snprintf(s->model_name, sizeof s->model_name, "%s", o->model_name ? o->model_name : "phi3vk");
    if (!s->o.queue) s->o.queue = DEFAULT_QUEUE;
    if (!s->o.max_body) s->o.max_body = DEFAULT_MAX_BODY;
    if (!s->o.max_texts || s->o.max_texts > s->o.queue) s->o.max_texts = s->o.queue;
    if (!s->o.max_connections) s->o.max_connections = DEFAULT_CONNECTIONS;
    if (!(s->o.threshold > 0)) s->o.threshold = JUDGE_DEFAULT_THRESHOLD;
    if ((s->has_key = o->api_key && *o->api_key)) {
        util_sha256 sh;
        util_sha256_init(&sh);
        util_sha256_update(&sh, o->api_key, strlen(o->api_key));
        util_sha256_final(&sh, s->api_key_sha);
    }
    s->lim = (srv_limits){.max_texts = s->o.max_texts, .max_text = s->o.max_body, .max_messages = 1024,
                          .max_tokens = 1 << 20};
    srv_sched_opts so = {.queue_cap = s->o.queue};
    int family = AF_INET;
    if (!(s->metrics = srv_metrics_create())) goto oom;
    so.metrics = s->metrics;
    if (!(s->sched = srv_sched_create(&so, err, errlen))) goto fail;
    if ((s->listen_fd = listen_on(s->host, o->port, &family, &s->port, err, errlen)) < 0) goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                            MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d", s->host, s->port);
        goto fail;
    }
    s->listen_fd = -1; /* the daemon's now */
    return s;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    srv_server_destroy(s);
    return NULL;
}

int srv_server_port(const srv_server *s) { return s->port; }

int srv_server_add_model(srv_server *s, eng_model *m, const eng_plan_request *r, char *err, size_t errlen) {
    return srv_sched_add_engine(s->sched, m, r, err, errlen);
}

int srv_server_ready(srv_server *s, char *err, size_t errlen) {
    if (srv_sched_engines(s->sched) == 0) return snprintf(err, errlen, "no model loaded"), -1;
    s->tok = eng_model_tokenizer(srv_sched_model(s->sched, 0));
    if (!s->tok) return snprintf(err, errlen, "the model has no tokenizer: pass --tokenizer"), -1;
    s->n_ctx = srv_sched_n_ctx(s->sched);
    s->lim.max_tokens = s->n_ctx;
    s->default_prompt = -1;
    for (int i = 0; i < judge_prompt_builtin_count() && s->n_prompts < SRV_N_PROMPTS; i++) {
        srv_prompt *p = &s->prompts[s->n_prompts];
        if (!(p->p = judge_prompt_builtin(judge_prompt_builtin_name(i), err, errlen)) ||
            judge_answer_build(s->tok, p->p, &p->ans, err, errlen)) {
            judge_prompt_destroy(p->p);
            p->p = NULL;
            return -1;
        }
        if (!strcmp(p->p->name, s->o.prompt ? s->o.prompt : JUDGE_PROMPT_DEFAULT)) s->default_prompt = s->n_prompts;
        s->n_prompts++;
    }
    if (s->default_prompt < 0) return snprintf(err, errlen, "--prompt %s: not a shipped prompt", s->o.prompt), -1;
    s->created = (long long)time(NULL);
    __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
    return 0;
}

int srv_server_drain(srv_server *s, double timeout_s) {
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELEASE);
    srv_sched_close(s->sched);
    if (s->d) { /* no new connections: a load balancer moves on to another replica */
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET) close(fd);
        s->listen_fd = -1;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    until.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0 && pthread_cond_timedwait(&s->idle, &s->mu, &until) == 0) {
    }
    int left = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left) srv_sched_cancel_all(s->sched, "the server is shutting down (--shutdown-timeout passed)");
    return left;
}

void srv_server_destroy(srv_server *s) {
    if (!s) return;
    if (s->sched) srv_sched_cancel_all(s->sched, "the server is shutting down");
    if (s->d) MHD_stop_daemon(s->d); /* waits for the connection threads */
    if (s->listen_fd >= 0) close(s->listen_fd);
    srv_sched_destroy(s->sched);
    for (int i = 0; i < s->n_prompts; i++) judge_prompt_destroy(s->prompts[i].p);
    srv_metrics_destroy(s->metrics);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
