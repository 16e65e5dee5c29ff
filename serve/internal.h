/* serve/ private: the server's state shared by server.c (the daemon,
 * routing, authentication, lifecycle) and endpoints.c (what each endpoint
 * does). */
#ifndef PHI3VK_SERVE_INTERNAL_H
#define PHI3VK_SERVE_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "judge/prompt.h"
#include "judge/score.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/sched.h"
#include "serve/serve.h"

#define SRV_N_PROMPTS 8

/* A shipped prompt and its answer tokens, built when the server is ready. */
typedef struct srv_prompt {
    judge_prompt *p;
    judge_answer_tokens ans;
} srv_prompt;

struct srv_server {
    srv_opts o;
    char host[256], model_name[512], api_key_sha[65];
    int has_key;
    int listen_fd, port;
    struct MHD_Daemon *d;
    srv_sched *sched;
    srv_metrics *metrics;
    srv_limits lim;
    int ready, draining;           /* read by the connection threads (atomics) */
    long long created;             /* Unix seconds when ready */
    unsigned long next_id;         /* response ids (atomic) */
    const tok_tokenizer *tok;      /* engine 0's (immutable: any thread may encode) */
    int n_ctx;                     /* tokens per sequence (the smallest engine's) */
    srv_prompt prompts[SRV_N_PROMPTS];
    int n_prompts, default_prompt;
    pthread_mutex_t mu;
    pthread_cond_t idle;           /* in_flight reached 0 */
    int in_flight;                 /* requests between their first byte and their last */
};

/* Per request (MHD's con_cls). */
typedef struct srv_conn {
    srv_server *s;
    int endpoint;                  /* SRV_EP_* */
    double t0;                     /* util_now_s() at the first byte */
    char *body;
    size_t len, cap;
    int too_big;                   /* more than max_body bytes came: 413 */
    int status;                    /* the status answered (metrics; streams count at their end) */
    int counted;                   /* metrics already recorded (streams) */
} srv_conn;

/* Queues a JSON response (takes body; NULL: 500 out of memory). Adds
 * Retry-After when retry_after > 0. */
enum MHD_Result srv_respond(srv_conn *c, struct MHD_Connection *con, int status, char *body, int retry_after);
/* Queues the OpenAI-shaped error e. */
enum MHD_Result srv_respond_error(srv_conn *c, struct MHD_Connection *con, const srv_error *e);

/* The endpoints (endpoints.c); the body is complete in c. */
enum MHD_Result srv_handle_classify(srv_server *s, srv_conn *c, struct MHD_Connection *con);
enum MHD_Result srv_handle_generate(srv_server *s, srv_conn *c, struct MHD_Connection *con, int chat);

#endif
