/* serve/ (srv_): phi3vk as an HTTP service (phi3vk serve), on libmicrohttpd.
 *
 *   srv_server *s = srv_server_start(&opts, err, sizeof err);   // binds; /health says "loading"
 *   srv_server_add_model(s, model_on_device_0, &plan_request, err, sizeof err);  // one per device
 *   srv_server_ready(s, err, sizeof err);                       // /health says "ok"
 *   ... SIGTERM ...
 *   srv_server_drain(s, 30.0);                                  // finish what is in flight
 *   srv_server_destroy(s);
 *
 * Endpoints (every answer JSON unless said; errors in OpenAI's shape
 * {"error": {"message", "type", "param", "code"}}):
 *   POST /v1/classify            the judge: one classify --jsonl record per item
 *   POST /v1/chat/completions    OpenAI chat completions (stream: server-sent events)
 *   POST /v1/completions         OpenAI completions
 *   GET  /v1/models              the one model
 *   GET  /health                 {"status": "ok"} 200, or "loading" / "shutting down" 503
 *   GET  /metrics                Prometheus text (serve/metrics.h)
 * With an API key every endpoint but /health needs "Authorization: Bearer
 * KEY" (compared in constant time: sha256 of both, then every byte).
 *
 * Requests become jobs (serve/job.h) that the scheduler (serve/sched.h)
 * batches continuously on the engines. Limits: bodies over max_body answer
 * 413, a full queue 503 with Retry-After, bad fields 400. Connections are
 * served by a thread each (at most max_connections). */
#ifndef PHI3VK_SERVE_SERVE_H
#define PHI3VK_SERVE_SERVE_H

#include <stddef.h>

#include "engine/engine.h"

typedef struct srv_server srv_server;

typedef struct srv_opts {
    const char *host;          /* address to bind (numeric or a name); NULL: 127.0.0.1 */
    int port;                  /* 0: a free port (srv_server_port says which) */
    const char *api_key;       /* NULL or "": no authentication */
    const char *model_name;    /* the id /v1/models lists and responses carry */
    int queue;                 /* most items (texts, completions) waiting; 0: 256 */
    size_t max_body;           /* bytes of a request body; 0: 4 MiB */
    int max_texts;             /* texts of one classify request; 0: the queue's size */
    int max_connections;       /* 0: 512 */
    const char *prompt;        /* classify's default prompt (a shipped name); NULL: judge-card */
    double threshold;          /* label-only: P(toxic) at or above which the label is toxic; 0: 0.5 */
    int no_bos;                /* no BOS before the chat template */
    int verbose;               /* log every request on stderr */
} srv_opts;

/* Binds host:port and starts answering (/health: loading; the model
 * endpoints 503 until ready). NULL with err (address in use, bad host,
 * bad default prompt). */
srv_server *srv_server_start(const srv_opts *o, char *err, size_t errlen);

/* The port listened on. */
int srv_server_port(const srv_server *s);

/* Adds an engine: model m (owned from now on, also on failure) with a
 * context of plan request r. Call before srv_server_ready. */
int srv_server_add_model(srv_server *s, eng_model *m, const eng_plan_request *r, char *err, size_t errlen);

/* Starts serving the model endpoints. Fails when no engine was added or
 * the model has no tokenizer. */
int srv_server_ready(srv_server *s, char *err, size_t errlen);

/* Shutdown: new requests get 503 and no new connection is accepted; waits
 * up to timeout_s seconds for the requests in flight to be answered, then
 * cancels what is left. Returns the requests cut off (0: a clean drain). */
int srv_server_drain(srv_server *s, double timeout_s);

/* Stops everything and frees (the models too). NULL is fine. */
void srv_server_destroy(srv_server *s);

#endif
