/* Continuous batching over the engines' sequences; see sched.h. */
#include "serve/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/score.h"
#include "util/time.h"

#define MAX_SEQ 64 /* eng_step's most inputs */

typedef struct engine {
    struct srv_sched *s;
    int id;
    eng_model *m;
    eng_ctx *c;
    srv_engine_view view;
    int n_seq, n_batch;
    srv_job *slot[MAX_SEQ];      /* the job in each sequence, NULL when free (under s->mu) */
    long long left_at[MAX_SEQ];  /* when each sequence's last job left, in jobs admitted (under s->mu) */
    long long n_admitted;
    eng_input in[MAX_SEQ];
    eng_output out[MAX_SEQ];
    srv_job *who[MAX_SEQ];       /* the job of each input */
    int chunk[MAX_SEQ];          /* prompt tokens of each input (0: a decode token) */
    pthread_t th;
    int started;
} engine;

struct srv_sched {
    pthread_mutex_t mu;
    pthread_cond_t work;         /* jobs queued or cancelled, or quit */
    srv_sched_opts o;
    engine *e[SRV_MAX_ENGINES];
    int n_engines;
    srv_job **q;                 /* ring of queue_cap queued jobs */
    int q_head, q_len;
    int active;                  /* jobs in sequences */
    int closed, quit;
};

srv_sched *srv_sched_create(const srv_sched_opts *o, char *err, size_t errlen) {
    srv_sched *s = calloc(1, sizeof *s);
    if (!s || !(s->q = calloc((size_t)(o->queue_cap > 0 ? o->queue_cap : 1), sizeof *s->q))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->o = *o;
    if (s->o.queue_cap < 1) s->o.queue_cap = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    return s;
}

/* A finished job leaves its engine or the queue: metrics, and the engines'
 * reference to its group once every job of the group has left. */
static void job_done(srv_sched *s, srv_job *j) {
    srv_group *g = j->g;
    if (s->o.metrics && !j->error) {
        srv_metrics_tokens(s->o.metrics, j->kind == SRV_JOB_CLASSIFY ? j->n_prompt : (long long)j->prompt.n, j->reused,
                           (long long)j->n_generated);
        srv_metrics_ttft(s->o.metrics, j->t_first - j->t_submit);
    }
    srv_job_end(j);
    pthread_mutex_lock(&g->mu);
    int all_left = ++g->n_left == g->n_jobs;
    pthread_mutex_unlock(&g->mu);
    if (all_left) srv_group_release(g); /* the jobs may be freed from here on */
}

static srv_job *pop(srv_sched *s) {
    if (!s->q_len) return NULL;
    srv_job *j = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->o.queue_cap;
    s->q_len--;
    return j;
}

static int cancelled(srv_job *j) { return __atomic_load_n(&j->g->cancelled, __ATOMIC_RELAXED); }

/* Does j's prompt mostly continue sequence k, sharing r of its tokens (the
 * same text again, a retry, the next turn of a chat)? */
static int continues(const engine *e, int k, int r) { return r > 0 && 2 * r >= eng_seq_len(e->c, k); }

/* Is free sequence a, sharing ra tokens with a job's prompt, a better home
 * for it than b, sharing rb? One the prompt continues, the longest shared
 * prefix first; otherwise the sequence left longest ago, so that a new
 * prompt does not evict a recent one for the few tokens they happen to
 * share (the judge's template, a first word). */
static int better_slot(const engine *e, int a, int ra, int b, int rb) {
    int ca = continues(e, a, ra), cb = continues(e, b, rb);
    if (ca != cb) return ca;
    if (ca && ra != rb) return ra > rb;
    if (e->left_at[a] != e->left_at[b]) return e->left_at[a] < e->left_at[b];
    return ra > rb;
}

/* The free sequence for j (-1: none), and in *reuse the prompt tokens it
 * shares with j. */
static int best_slot(engine *e, const srv_job *j, int *reuse) {
    int best = -1;
    *reuse = -1;
    for (int k = 0; k < e->n_seq; k++) {
        if (e->slot[k]) continue;
        int r = judge_common_prefix(eng_seq_tokens(e->c, k), eng_seq_len(e->c, k), j->prompt.ids, (int)j->prompt.n);
        if (best < 0 || better_slot(e, k, r, best, *reuse)) best = k, *reuse = r;
    }
    return best;
}

/* Sequence k of job j keeps the first *reuse tokens of its own cache; when
 * another sequence, busy or free, holds a longer prefix of j's prompt (the
 * judge's template, a text another request is computing), its keys and
 * values are copied into k instead (one device copy per layer), so a prefix
 * is computed once per engine, not once per sequence. At most n_prompt - 1
 * tokens are taken; after a failed copy k starts empty. */
static void take_prefix(engine *e, int k, const srv_job *j, int *reuse) {
    int n_prompt = (int)j->prompt.n, from = -1, most = *reuse < n_prompt - 1 ? *reuse : n_prompt - 1;
    for (int q = 0; q < e->n_seq; q++) {
        if (q == k) continue;
        int r = judge_common_prefix(eng_seq_tokens(e->c, q), eng_seq_len(e->c, q), j->prompt.ids, n_prompt);
        if (r > n_prompt - 1) r = n_prompt - 1;
        if (r > most) from = q, most = r;
    }
    char err[256];
    if (from >= 0) {
        if (eng_seq_copy(e->c, from, k, most, err, sizeof err) == 0) {
            *reuse = most;
            return;
        }
        *reuse = 0; /* the copy may have written part of k's rows */
    }
    if (*reuse > n_prompt - 1) *reuse = n_prompt - 1; /* the last prompt token is always computed */
    eng_seq_truncate(e->c, k, *reuse);
}

/* Under s->mu: moves queued jobs into free sequences while less than a
 * pass of prompt tokens waits in this engine. Returns how many came. */
static int admit(engine *e, srv_job **came) {
    srv_sched *s = e->s;
    int waiting = 0, n = 0;
    for (int k = 0; k < e->n_seq; k++)
        if (e->slot[k] && e->slot[k]->phase == SRV_PREFILL) waiting += (int)e->slot[k]->prompt.n - e->slot[k]->n_fed;
    while (waiting < e->n_batch && s->q_len) {
        int reuse, k = best_slot(e, s->q[s->q_head], &reuse);
        if (k < 0) break;
        srv_job *j = pop(s);
        if (cancelled(j)) {
            srv_job_fail(j, "cancelled: the client went away");
            job_done(s, j);
            continue;
        }
        int n_prompt = (int)j->prompt.n;
        take_prefix(e, k, j, &reuse);
        j->seq = k;
        j->n_fed = j->reused = reuse;
        j->phase = SRV_PREFILL;
        e->slot[k] = j;
        e->n_admitted++;
        s->active++;
        waiting += n_prompt - reuse;
        came[n++] = j;
    }
    return n;
}

/* Frees sequence k of a finished job (under s->mu). */
static void leave(engine *e, int k) {
    e->slot[k] = NULL;
    e->left_at[k] = e->n_admitted;
    e->s->active--;
}

/* The inputs of one step: a token per decoding job, then prompt chunks up
 * to a pass. Jobs whose client went away end here. */
static int build_step(engine *e) {
    int n = 0, decoding = 0;
    for (int k = 0; k < e->n_seq; k++) {
        srv_job *j = e->slot[k];
        if (!j || j->phase != SRV_DECODE) continue;
        int top;
        unsigned want = srv_job_want(j, &top);
        e->in[n] = (eng_input){.seq = k, .tokens = &j->feed, .n = 1, .want = want, .top_k = top};
        e->who[n] = j;
        e->chunk[n++] = 0;
        decoding++;
    }
    int budget = e->n_batch - decoding;
    if (budget < 64) budget = 64;
    for (int pass = 0; pass < 2; pass++) /* prompts begun first (pass 0), then new ones */
        for (int k = 0; k < e->n_seq && budget > 0; k++) {
            srv_job *j = e->slot[k];
            if (!j || j->phase != SRV_PREFILL || (pass == 0) != (j->n_fed > j->reused)) continue;
            int rem = (int)j->prompt.n - j->n_fed, c = rem < budget ? rem : budget, top = 0;
            unsigned want = c == rem ? srv_job_want(j, &top) : 0;
            e->in[n] = (eng_input){.seq = k, .tokens = j->prompt.ids + j->n_fed, .n = c, .want = want, .top_k = top};
            e->who[n] = j;
            e->chunk[n++] = c;
            budget -= c;
        }
    return n;
}

/* Runs one step of n inputs and hands each job its outputs. */
static void run_step(engine *e, int n) {
    srv_sched *s = e->s;
    char err[1024];
    if (s->o.metrics) srv_metrics_step(s->o.metrics, n);
    int rc = eng_step(e->c, e->in, n, e->out, err, sizeof err);
    for (int i = 0; i < n; i++) {
        srv_job *j = e->who[i];
        if (rc) {
            srv_job_fail(j, err);
            continue;
        }
        j->n_fed += e->chunk[i];
        if (e->chunk[i] && j->n_fed < (int)j->prompt.n) continue; /* more of the prompt next step */
        if (srv_job_on_output(j, &e->view, &e->out[i], eng_seq_len(e->c, e->in[i].seq), err, sizeof err))
            srv_job_fail(j, err);
    }
    if (rc) /* the context's state after a failed step is unknown */
        for (int k = 0; k < e->n_seq; k++) eng_seq_truncate(e->c, k, 0);
}

/* Ends (under s->mu) the engine's jobs that are done or whose client left. */
static void sweep(engine *e) {
    for (int k = 0; k < e->n_seq; k++) {
        srv_job *j = e->slot[k];
        if (!j) continue;
        if (j->phase != SRV_DONE && (cancelled(j) || e->s->quit)) srv_job_fail(j, "cancelled");
        if (j->phase == SRV_DONE) {
            leave(e, k);
            job_done(e->s, j);
        }
    }
}

static void *engine_main(void *arg) {
    engine *e = arg;
    srv_sched *s = e->s;
    srv_job *came[MAX_SEQ];
    char err[1024];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        sweep(e);
        if (s->quit) break;
        int n_came = admit(e, came), busy = 0;
        for (int k = 0; k < e->n_seq; k++) busy |= e->slot[k] != NULL;
        if (!busy) {
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n_came; i++)
            if (srv_job_begin(came[i], &e->view, err, sizeof err)) srv_job_fail(came[i], err);
        int n = build_step(e);
        if (n > 0) run_step(e, n);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* eng_plan_make, but without --ctx (r->n_ctx 0) the context shrinks, in
 * steps of 256 tokens, until every sequence's KV cache of a layer fits the
 * device's largest storage buffer (lavapipe: 128 MiB, so 8 sequences of a
 * full-width Phi-3 get 2560 tokens, not 4096). A given --ctx is kept. */
static int plan_fitting(eng_model *m, const eng_plan_request *r, eng_plan *plan, char *err, size_t errlen) {
    if (r->n_ctx > 0) return eng_plan_make(m, r, plan, err, errlen);
    eng_plan_request q = *r;
    q.n_ctx = 256; /* learns the number of sequences the device gets */
    if (eng_plan_make(m, &q, plan, err, errlen)) return -1;
    const phi3_config *cfg = eng_model_config(m);
    uint64_t row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2; /* fp16 bytes per token, K or V, one layer */
    uint64_t most = vkr_ctx_device(eng_model_vk(m))->max_storage_buffer_range / ((uint64_t)plan->n_seq * row);
    int want = cfg->max_pos < 4096 ? cfg->max_pos : 4096;
    q.n_ctx = (uint64_t)want <= most ? want : (int)(most / 256 * 256);
    q.n_seq = plan->n_seq;
    if (q.n_ctx < 256) q.n_ctx = 0; /* let eng_plan_make say what does not fit */
    return eng_plan_make(m, &q, plan, err, errlen);
}

int srv_sched_add_engine(srv_sched *s, eng_model *m, const eng_plan_request *r, char *err, size_t errlen) {
    if (s->n_engines == SRV_MAX_ENGINES) {
        eng_model_close(m);
        return snprintf(err, errlen, "at most %d devices", SRV_MAX_ENGINES), -1;
    }
    engine *e = calloc(1, sizeof *e);
    eng_plan plan;
    if (!e) {
        eng_model_close(m);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    e->s = s;
    e->m = m;
    e->id = s->n_engines;
    if (plan_fitting(m, r, &plan, err, errlen) || !(e->c = eng_ctx_create(m, &plan, err, errlen))) {
        eng_model_close(m);
        free(e);
        return -1;
    }
    e->n_seq = eng_ctx_n_seq(e->c) < MAX_SEQ ? eng_ctx_n_seq(e->c) : MAX_SEQ;
    e->n_batch = plan.n_batch;
    e->view = (srv_engine_view){.c = e->c, .tok = eng_model_tokenizer(m), .cfg = eng_model_config(m),
                                .n_ctx = eng_ctx_n_ctx(e->c)};
    if (pthread_create(&e->th, NULL, engine_main, e)) {
        eng_ctx_destroy(e->c);
        eng_model_close(m);
        free(e);
        return snprintf(err, errlen, "cannot start the engine thread"), -1;
    }
    e->started = 1;
    pthread_mutex_lock(&s->mu);
    s->e[s->n_engines++] = e;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int srv_sched_engines(const srv_sched *s) { return s->n_engines; }
eng_model *srv_sched_model(srv_sched *s, int i) { return s->e[i]->m; }
int srv_sched_n_seq(const srv_sched *s, int i) { return s->e[i]->n_seq; }

int srv_sched_n_ctx(const srv_sched *s) {
    int n = 0;
    for (int i = 0; i < s->n_engines; i++)
        if (!n || s->e[i]->view.n_ctx < n) n = s->e[i]->view.n_ctx;
    return n;
}

int srv_sched_submit(srv_sched *s, srv_group *g) {
    int todo = 0;
    for (int i = 0; i < g->n_jobs; i++) todo += g->jobs[i].phase != SRV_DONE; /* done: answered without a model */
    pthread_mutex_lock(&s->mu);
    int rc = s->closed ? -2 : s->q_len + todo > s->o.queue_cap ? -1 : 0;
    double now = util_now_s();
    if (!rc) { /* before any job is queued, so that no engine counts the last one first */
        pthread_mutex_lock(&g->mu);
        g->n_left += g->n_jobs - todo;
        pthread_mutex_unlock(&g->mu);
    }
    for (int i = 0; !rc && i < g->n_jobs; i++) {
        srv_job *j = &g->jobs[i];
        j->t_submit = now;
        if (j->phase == SRV_DONE) continue;
        j->phase = SRV_QUEUED;
        s->q[(s->q_head + s->q_len++) % s->o.queue_cap] = j;
    }
    if (!rc) pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (!rc && todo == 0) srv_group_release(g); /* nothing for the engines */
    return rc;
}

void srv_sched_cancel(srv_sched *s, srv_group *g) {
    __atomic_store_n(&g->cancelled, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->work); /* queued jobs are dropped when an engine pops them */
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_close(srv_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_cancel_all(srv_sched *s, const char *why) {
    pthread_mutex_lock(&s->mu);
    srv_job *j;
    while ((j = pop(s))) {
        srv_job_fail(j, why);
        job_done(s, j);
    }
    for (int i = 0; i < s->n_engines; i++)
        for (int k = 0; k < s->e[i]->n_seq; k++)
            if (s->e[i]->slot[k]) __atomic_store_n(&s->e[i]->slot[k]->g->cancelled, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_counts(srv_sched *s, int *queued, int *active) {
    pthread_mutex_lock(&s->mu);
    *queued = s->q_len;
    *active = s->active;
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_device(srv_sched *s, int i, const char **name, uint64_t *weights, uint64_t *context) {
    engine *e = s->e[i];
    *name = vkr_ctx_device(eng_model_vk(e->m))->name;
    *weights = eng_model_weight_bytes(e->m);
    *context = eng_ctx_device_bytes(e->c);
}

void srv_sched_destroy(srv_sched *s) {
    if (!s) return;
    srv_sched_cancel_all(s, "the server is shutting down");
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_engines; i++) {
        engine *e = s->e[i];
        if (e->started) pthread_join(e->th, NULL);
        eng_ctx_destroy(e->c);
        eng_model_close(e->m);
        free(e);
    }
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->q);
    free(s);
}
