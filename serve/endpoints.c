/* What POST /v1/classify, /v1/chat/completions and /v1/completions do:
 * requests into jobs, jobs into responses, streams as server-sent events. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "judge/classifier.h"
#include "judge/provenance.h"
#include "serve/call.h"
#include "serve/internal.h"
#include "serve/openai.h"
#include "util/time.h"

#define STREAM_BLOCK 16384

/* Waits until every job of g is done. */
static void wait_done(srv_group *g) {
    pthread_mutex_lock(&g->mu);
    while (g->n_done < g->n_jobs) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* A job's engine failure as the response's error (503 when the server cut
 * it off while shutting down). */
static int job_error(const srv_group *g, srv_error *e) {
    for (int i = 0; i < g->n_jobs; i++)
        if (g->jobs[i].error) {
            int down = strstr(g->jobs[i].error, "shutting down") != NULL;
            return srv_fail(e, down ? 503 : 500, "server_error", NULL, NULL, "%s", g->jobs[i].error);
        }
    return 0;
}

/* Queues g; on failure fills e (503: the queue is full or the server is
 * shutting down) and drops both references. */
static int submit(srv_server *s, srv_group *g, srv_error *e) {
    int rc = srv_sched_submit(s->sched, g);
    if (!rc) return 0;
    srv_group_release(g);
    srv_group_release(g);
    if (rc == -2) return srv_fail(e, 503, "server_error", NULL, NULL, "the server is shutting down");
    return srv_fail(e, 503, "server_error", NULL, "queue_full", "the queue is full (%d items wait): retry later",
                    s->o.queue);
}

/* ---- classify ---------------------------------------------------------------- */

/* The request's prompt: a shipped one by name, or its own template. */
static int pick_prompt(srv_server *s, const char *name, judge_prompt **custom, const srv_prompt **out, srv_error *e,
                       judge_answer_tokens *ans) {
    char err[1024];
    *custom = NULL;
    for (int i = 0; i < s->n_prompts; i++)
        if (name ? !strcmp(name, s->prompts[i].p->name) : i == s->default_prompt) {
            *out = &s->prompts[i];
            *ans = s->prompts[i].ans;
            return 0;
        }
    if (!strstr(name, "{text}"))
        return srv_fail(e, 400, "invalid_request_error", "prompt", NULL, "unknown prompt '%.64s': a shipped prompt's "
                        "name (judge-card, judge-noreason, judge-reason, phoenix) or a template with {text}", name);
    if (!(*custom = judge_prompt_from_bytes(name, strlen(name), "the request's prompt", err, sizeof err)) ||
        judge_answer_build(s->tok, *custom, ans, err, sizeof err)) {
        judge_prompt_destroy(*custom);
        *custom = NULL;
        return srv_fail(e, 400, "invalid_request_error", "prompt", NULL, "%s", err);
    }
    *out = NULL;
    return 0;
}

/* Item i of r as job j of g; an item whose prompt does not fit the context
 * is answered here as classify --too-long skip does (label error). */
static int classify_job(srv_server *s, const srv_classify_req *r, int i, const judge_prompt *p, srv_group *g,
                        srv_error *e) {
    srv_job *j = &g->jobs[i];
    char err[512];
    j->kind = SRV_JOB_CLASSIFY;
    j->ans = &g->ans;
    j->reason = r->reason;
    j->max_new = r->max_tokens > 0 ? r->max_tokens : p->max_new_reason;
    j->snap = p->snap;
    j->threshold = s->o.threshold;
    j->res.label = JUDGE_UNPARSABLE;
    if (!(j->res.id = strdup(r->ids[i]))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    judge_sha256_hex(r->texts[i], r->lens[i], j->res.text_sha256);
    if (judge_prompt_encode(s->tok, p, s->o.no_bos, r->texts[i], r->lens[i], &j->prompt, err, sizeof err))
        return srv_fail(e, 400, "invalid_request_error", "texts", NULL, "item %d: %s", i, err);
    j->n_prompt = (int)j->prompt.n;
    for (int k = 0; k < g->ans.n_shared; k++)
        if (tok_ids_push(&j->prompt, g->ans.shared[k])) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    j->res.prompt_tokens = j->n_prompt;
    if ((int)j->prompt.n <= s->n_ctx) return 0;
    snprintf(err, sizeof err, "the prompt has %d tokens, more than the server's context of %d", (int)j->prompt.n,
             s->n_ctx);
    j->res.label = JUDGE_ERROR;
    j->res.prompt_tokens = 0;
    if (!(j->res.error = strdup(err))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    j->phase = SRV_DONE;
    j->finish = "stop";
    g->n_done++;
    return 0;
}

enum MHD_Result srv_handle_classify(srv_server *s, srv_conn *c, struct MHD_Connection *con) {
    srv_classify_req r;
    srv_error e = {0};
    if (srv_parse_classify(c->body ? c->body : "", c->len, &s->lim, &r, &e)) return srv_respond_error(c, con, &e);
    judge_prompt *custom = NULL;
    const srv_prompt *shipped = NULL;
    judge_answer_tokens ans;
    srv_group *g = NULL;
    int rc = pick_prompt(s, r.prompt, &custom, &shipped, &e, &ans);
    const judge_prompt *p = custom ? custom : shipped ? shipped->p : NULL;
    if (!rc && !(g = srv_group_create(r.n))) rc = srv_fail(&e, 500, "server_error", NULL, NULL, "out of memory");
    if (g) g->ans = ans;
    for (int i = 0; !rc && i < r.n; i++) rc = classify_job(s, &r, i, p, g, &e);
    judge_prompt_destroy(custom);
    srv_classify_req_free(&r);
    if (rc) {
        srv_group_release(g);
        srv_group_release(g);
        return srv_respond_error(c, con, &e);
    }
    if (submit(s, g, &e)) return srv_respond_error(c, con, &e);
    wait_done(g);
    char *body = job_error(g, &e) ? NULL : srv_classify_json(s->model_name, g);
    srv_group_release(g);
    return e.status ? srv_respond_error(c, con, &e) : srv_respond(c, con, 200, body, 0);
}

/* ---- chat and completions ---------------------------------------------------- */

/* The prompt tokens of r into j->prompt. */
static int gen_prompt(srv_server *s, const srv_gen_req *r, srv_job *j, srv_error *e) {
    char err[512];
    if (r->chat) {
        tok_chat_msg *m = calloc((size_t)r->n_msgs, sizeof *m);
        if (!m) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        for (int i = 0; i < r->n_msgs; i++) m[i] = (tok_chat_msg){r->msgs[i].role, r->msgs[i].content};
        unsigned flags = TOK_CHAT_CONTENT_AS_TEXT | (s->o.no_bos ? TOK_CHAT_NO_BOS : 0);
        int rc = tok_chat_encode(s->tok, m, (size_t)r->n_msgs, flags, &j->prompt, err, sizeof err);
        free(m);
        if (rc) return srv_fail(e, 400, "invalid_request_error", "messages", NULL, "%s", err);
    } else {
        if (!s->o.no_bos && tok_bos_id(s->tok) >= 0 && tok_ids_push(&j->prompt, tok_bos_id(s->tok)))
            return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        if (tok_encode(s->tok, r->prompt, strlen(r->prompt), 0, &j->prompt, err, sizeof err))
            return srv_fail(e, 400, "invalid_request_error", "prompt", NULL, "%s", err);
    }
    if (j->prompt.n == 0) return srv_fail(e, 400, "invalid_request_error", "prompt", NULL, "the prompt is empty");
    return 0;
}

/* The generation job of r; its prompt and max_tokens checked against the context. */
static int gen_job(srv_server *s, srv_gen_req *r, srv_job *j, srv_error *e) {
    j->kind = SRV_JOB_GENERATE;
    j->chat = r->chat;
    if (gen_prompt(s, r, j, e)) return -1;
    int n = (int)j->prompt.n, want = r->max_tokens >= 0 ? r->max_tokens : r->chat ? s->n_ctx - n : 16;
    if (n + (want > 0 ? want : 1) > s->n_ctx)
        return srv_fail(e, 400, "invalid_request_error", r->chat ? "messages" : "prompt", "context_length_exceeded",
                        "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in "
                        "the %s, %d in the completion).", s->n_ctx, n + want, n, r->chat ? "messages" : "prompt", want);
    j->max_new = want;
    j->greedy = r->temperature == 0;
    uint64_t seed = r->has_seed ? r->seed
                                : ((uint64_t)time(NULL) << 20) ^ __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED);
    j->sampling = (eng_sampler_opts){.temp = (float)r->temperature, .top_p = (float)r->top_p, .repeat_penalty = 1.0f,
                                     .repeat_last_n = 64, .seed = seed};
    j->logprobs = r->logprobs;
    j->top_logprobs = r->top_logprobs;
    for (int i = 0; i < r->n_stop; i++) {
        j->stop[j->n_stop++] = r->stop[i];
        r->stop[i] = NULL;
    }
    r->n_stop = 0;
    return 0;
}

/* A stream's state, owned by its MHD response. */
typedef struct stream {
    srv_server *s;
    srv_group *g;
    srv_resp_info ri;
    char id[64];
    int include_usage;
    int role_sent;
    size_t sent;           /* text bytes sent */
    int sent_toks;         /* tokens sent */
    char *pending;         /* bytes for the socket */
    size_t plen, poff, pcap;
    int finished;          /* [DONE] is in pending */
} stream;

static int put_event(stream *st, char *json) {
    if (!json) return -1;
    size_t k = strlen(json), need = st->plen + k + 9;
    if (need > st->pcap) {
        char *b = realloc(st->pending, need * 2);
        if (!b) {
            free(json);
            return -1;
        }
        st->pending = b;
        st->pcap = need * 2;
    }
    memcpy(st->pending + st->plen, "data: ", 6);
    memcpy(st->pending + st->plen + 6, json, k);
    memcpy(st->pending + st->plen + 6 + k, "\n\n", 2);
    st->plen += k + 8;
    free(json);
    return 0;
}

/* Waits for news of the job and turns it into events in pending. */
static int next_events(stream *st) {
    srv_job *j = &st->g->jobs[0];
    srv_group *g = st->g;
    pthread_mutex_lock(&g->mu);
    while (st->role_sent && j->phase != SRV_DONE && j->text_safe <= st->sent) pthread_cond_wait(&g->cv, &g->mu);
    int done = j->phase == SRV_DONE, k = st->sent_toks;
    size_t upto = j->text_safe > st->sent ? j->text_safe : st->sent;
    while (k < j->n_toks && j->toks[k].end <= upto) k++;
    if (done) k = j->n_toks;
    srv_chunk ch = {.len = upto - st->sent, .text_offset = st->sent, .n_toks = k - st->sent_toks,
                    .role = !st->role_sent && st->ri.chat};
    char *text = malloc(ch.len + 1), *err_json = NULL;
    srv_tokinfo *toks = ch.n_toks ? malloc(sizeof *toks * (size_t)ch.n_toks) : NULL;
    int rc = text && (toks || !ch.n_toks) ? 0 : -1;
    if (!rc) {
        memcpy(text, j->text ? j->text + st->sent : "", ch.len);
        if (ch.n_toks) memcpy(toks, j->toks + st->sent_toks, sizeof *toks * (size_t)ch.n_toks);
    }
    if (done && j->error) {
        srv_error e = {0};
        srv_fail(&e, 500, "server_error", NULL, NULL, "%s", j->error);
        err_json = srv_error_json(&e);
    }
    const char *finish = j->finish;
    pthread_mutex_unlock(&g->mu); /* what follows reads only what no engine writes any more */
    ch.text = text;
    ch.toks = toks;
    if (!rc && (ch.len || ch.n_toks || ch.role)) rc = put_event(st, srv_chunk_json(&st->ri, j, &ch));
    st->role_sent = 1;
    st->sent = upto;
    st->sent_toks = k;
    if (!rc && done) {
        srv_chunk last = {.text = "", .finish = finish ? finish : "stop"};
        if (err_json) rc = put_event(st, err_json), err_json = NULL;
        else rc = put_event(st, srv_chunk_json(&st->ri, j, &last));
        if (!rc && st->include_usage) rc = put_event(st, srv_usage_chunk_json(&st->ri, j));
        if (!rc) rc = put_event(st, strdup("[DONE]"));
        st->finished = 1;
    }
    free(err_json);
    free(text);
    free(toks);
    return rc;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream *st = cls;
    (void)pos;
    for (;;) {
        if (st->poff < st->plen) {
            size_t n = st->plen - st->poff < max ? st->plen - st->poff : max;
            memcpy(buf, st->pending + st->poff, n);
            st->poff += n;
            if (st->poff == st->plen) st->poff = st->plen = 0;
            return (ssize_t)n;
        }
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        if (next_events(st)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void stream_free(void *cls) {
    stream *st = cls;
    pthread_mutex_lock(&st->g->mu);
    int running = st->g->n_done < st->g->n_jobs;
    pthread_mutex_unlock(&st->g->mu);
    if (running) srv_sched_cancel(st->s->sched, st->g); /* the client went away */
    srv_group_release(st->g);
    free(st->pending);
    free(st);
}

static enum MHD_Result start_stream(srv_server *s, srv_conn *c, struct MHD_Connection *con, srv_group *g,
                                    const srv_resp_info *ri, int include_usage) {
    stream *st = calloc(1, sizeof *st);
    struct MHD_Response *r = st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
                                                                     stream_free)
                                : NULL;
    if (!r) {
        free(st);
        srv_sched_cancel(s->sched, g);
        srv_group_release(g);
        return srv_respond(c, con, 500, NULL, 0);
    }
    st->s = s;
    st->g = g;
    st->ri = *ri;
    snprintf(st->id, sizeof st->id, "%s", ri->id);
    st->ri.id = st->id;
    st->include_usage = include_usage;
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events on as they come */
    c->status = 200;
    enum MHD_Result rc = MHD_queue_response(con, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void free_call(struct srv_call *call) {
    if (call) srv_call_free(call);
    free(call);
}

enum MHD_Result srv_handle_generate(srv_server *s, srv_conn *c, struct MHD_Connection *con, int chat) {
    srv_gen_req r;
    srv_error e = {0};
    if (srv_parse_generate(c->body ? c->body : "", c->len, chat, &s->lim, &r, &e)) return srv_respond_error(c, con, &e);
    srv_group *g = srv_group_create(1);
    int rc = g ? gen_job(s, &r, &g->jobs[0], &e) : srv_fail(&e, 500, "server_error", NULL, NULL, "out of memory");
    int stream = r.stream, include_usage = r.include_usage;
    struct srv_call *call = r.call; /* answered once the reply is complete */
    r.call = NULL;
    srv_gen_req_free(&r);
    if (rc) {
        srv_group_release(g);
        srv_group_release(g);
        free_call(call);
        return srv_respond_error(c, con, &e);
    }
    if (submit(s, g, &e)) {
        free_call(call);
        return srv_respond_error(c, con, &e);
    }
    char id[64];
    snprintf(id, sizeof id, "%s-%lx%lx", chat ? "chatcmpl" : "cmpl", (unsigned long)s->created,
             __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED));
    srv_resp_info ri = {.id = id, .model = s->model_name, .created = (long long)time(NULL), .chat = chat, .tok = s->tok,
                        .call = call};
    if (stream) return start_stream(s, c, con, g, &ri, include_usage); /* never with a call (request.c) */
    wait_done(g);
    char *body = job_error(g, &e) ? NULL : srv_generate_response(&ri, &g->jobs[0]);
    srv_group_release(g);
    free_call(call);
    return e.status ? srv_respond_error(c, con, &e) : srv_respond(c, con, 200, body, 0);
}
