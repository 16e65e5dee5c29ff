/* What an engine does with a job's outputs: P(toxic) and labels, sampled
 * or greedy tokens, their text, stop strings, log-probabilities; see job.h. */
#define _GNU_SOURCE /* memmem */
#include "serve/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/classifier.h"
#include "util/time.h"

srv_group *srv_group_create(int n) {
    srv_group *g = calloc(1, sizeof *g);
    if (!g || !(g->jobs = calloc((size_t)(n > 0 ? n : 1), sizeof *g->jobs))) {
        free(g);
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->n_jobs = n;
    g->refs = 2;
    for (int i = 0; i < n; i++) {
        g->jobs[i].g = g;
        g->jobs[i].seq = -1;
        g->jobs[i].res.p_toxic = NAN;
    }
    return g;
}

static void job_free(srv_job *j) {
    srv_job_end(j);
    tok_ids_free(&j->prompt);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    free(j->text);
    free(j->toks);
    free(j->error);
    free((char *)j->res.id);
    free((char *)j->res.reason);
    free((char *)j->res.error);
}

void srv_group_release(srv_group *g) {
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (!last) return;
    for (int i = 0; i < g->n_jobs; i++) job_free(&g->jobs[i]);
    free(g->jobs);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

int srv_job_begin(srv_job *j, const srv_engine_view *v, char *err, size_t errlen) {
    j->t_start = util_now_s();
    j->gen.n = 0;
    if (j->kind != SRV_JOB_GENERATE) return 0;
    if (!j->greedy && !(j->sampler = eng_sampler_create(&j->sampling, v->cfg->vocab)))
        return snprintf(err, errlen, "out of memory"), -1;
    if (!(j->stream = tok_stream_create(v->tok, j->chat ? 0 : TOK_DECODE_KEEP_LEADING_SPACE)))
        return snprintf(err, errlen, "out of memory"), -1;
    return 0;
}

void srv_job_end(srv_job *j) {
    eng_sampler_destroy(j->sampler);
    tok_stream_destroy(j->stream);
    tok_ids_free(&j->gen);
    j->sampler = NULL;
    j->stream = NULL;
}

unsigned srv_job_want(const srv_job *j, int *top_k) {
    *top_k = 0;
    if (j->kind == SRV_JOB_CLASSIFY) return j->phase == SRV_PREFILL ? ENG_LOGITS : 0;
    if (j->logprobs) *top_k = j->top_logprobs;
    return !j->greedy || j->logprobs ? ENG_LOGITS : 0;
}

/* Marks j done (under g->mu) and wakes the waiters. */
static void finish_locked(srv_job *j, const char *why) {
    srv_group *g = j->g;
    j->finish = why;
    j->n_generated = (int)j->gen.n;
    j->phase = SRV_DONE;
    j->t_done = util_now_s();
    if (!j->t_first) j->t_first = j->t_done;
    j->text_safe = j->text_len;
    g->n_done++;
    g->changes++;
    pthread_cond_broadcast(&g->cv);
}

void srv_job_fail(srv_job *j, const char *why) {
    pthread_mutex_lock(&j->g->mu);
    if (j->phase != SRV_DONE) {
        free(j->error);
        j->error = strdup(why ? why : "failed");
        finish_locked(j, NULL);
    }
    pthread_mutex_unlock(&j->g->mu);
}

static int is_stop(const phi3_config *cfg, int32_t id) {
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] == id) return 1;
    return 0;
}

/* Appends s[0, n) to j's text (under g->mu). */
static int append_text(srv_job *j, const char *s, size_t n) {
    if (j->text_len + n + 1 > j->text_cap) {
        size_t cap = (j->text_len + n + 1) * 2;
        char *t = realloc(j->text, cap);
        if (!t) return -1;
        j->text = t;
        j->text_cap = cap;
    }
    memcpy(j->text + j->text_len, s, n);
    j->text_len += n;
    j->text[j->text_len] = 0;
    return 0;
}

/* After text was added from offset from: cuts the text at the first stop
 * string that now occurs (1) or sets text_safe short of a stop string's
 * possible beginning (0). */
static int apply_stops(srv_job *j, size_t from) {
    size_t cut = SIZE_MAX;
    for (int i = 0; i < j->n_stop; i++) {
        size_t k = strlen(j->stop[i]), start = from >= k ? from - k + 1 : 0;
        char *p = memmem(j->text + start, j->text_len - start, j->stop[i], k);
        if (p && (size_t)(p - j->text) < cut) cut = (size_t)(p - j->text);
    }
    if (cut != SIZE_MAX) {
        j->text_len = cut;
        j->text[cut] = 0;
        return 1;
    }
    size_t hold = 0;
    for (int i = 0; i < j->n_stop; i++) { /* the longest tail of text that begins a stop string */
        size_t k = strlen(j->stop[i]);
        for (size_t t = k - 1; t > hold; t--)
            if (t <= j->text_len && !memcmp(j->text + j->text_len - t, j->stop[i], t)) {
                hold = t;
                break;
            }
    }
    j->text_safe = j->text_len - hold;
    return 0;
}

/* log-softmax of logits[id]. */
static float logprob_of(const float *logits, int vocab, int32_t id) {
    double mx = -INFINITY, sum = 0;
    for (int v = 0; v < vocab; v++)
        if (logits[v] > mx) mx = logits[v];
    for (int v = 0; v < vocab; v++) sum += exp((double)logits[v] - mx);
    return (float)((double)logits[id] - mx - log(sum));
}

/* A generate job's new token: its text, log-probabilities, stops. */
static int gen_token(srv_job *j, const srv_engine_view *v, const eng_output *o, int32_t tok, int seq_len, char *err,
                     size_t errlen) {
    srv_group *g = j->g;
    int stop_id = is_stop(v->cfg, tok);
    size_t len = 0;
    const char *piece = "";
    if (!stop_id && tok < tok_n_vocab(v->tok) && !(piece = tok_stream_push(j->stream, tok, &len, err, errlen)))
        return -1;
    pthread_mutex_lock(&g->mu);
    size_t from = j->text_len;
    int rc = append_text(j, piece, len), cut = 0;
    if (!rc && j->logprobs && !stop_id) {
        if (j->n_toks == j->cap_toks) {
            int cap = j->cap_toks ? 2 * j->cap_toks : 64;
            srv_tokinfo *t = realloc(j->toks, sizeof *t * (size_t)cap);
            if (t) j->toks = t, j->cap_toks = cap;
            else rc = -1;
        }
        if (!rc) {
            srv_tokinfo *ti = &j->toks[j->n_toks++];
            ti->id = tok;
            ti->logprob = o->logits ? logprob_of(o->logits, v->cfg->vocab, tok) : 0;
            ti->n_top = o->n_top;
            memcpy(ti->top, o->top, sizeof ti->top[0] * (size_t)o->n_top);
        }
    }
    if (!rc) cut = apply_stops(j, from);
    if (!rc && j->logprobs && !stop_id && j->n_toks) j->toks[j->n_toks - 1].end = j->text_len;
    if (!j->t_first) j->t_first = util_now_s();
    int n_gen = (int)j->gen.n;
    if (rc) snprintf(err, errlen, "out of memory");
    else if (stop_id || cut) finish_locked(j, "stop");
    else if (n_gen >= j->max_new || seq_len >= v->n_ctx) finish_locked(j, "length");
    else {
        j->phase = SRV_DECODE;
        j->feed = tok;
        g->changes++;
        pthread_cond_broadcast(&g->cv);
    }
    if (!rc && j->phase == SRV_DONE && !cut) { /* the decoder's held-back bytes */
        size_t k = 0;
        const char *tail = tok_stream_flush(j->stream, &k);
        if (k && append_text(j, tail, k) == 0) j->text_safe = j->text_len;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* A classify job with reason: its new token, the label once it ends. */
static int reason_token(srv_job *j, const srv_engine_view *v, int32_t tok, int seq_len, char *err, size_t errlen) {
    int n_gen = (int)j->gen.n;
    if (!is_stop(v->cfg, tok) && n_gen < j->max_new && seq_len < v->n_ctx) {
        j->feed = tok;
        j->phase = SRV_DECODE;
        return 0;
    }
    char *reason = judge_reason_decode(v->tok, v->cfg, j->gen.ids, n_gen, err, errlen);
    if (!reason) return -1;
    pthread_mutex_lock(&j->g->mu);
    j->res.reason = reason;
    j->res.label = judge_label_snap(reason, strlen(reason), j->snap);
    j->res.ms = (util_now_s() - j->t_start) * 1000.0;
    finish_locked(j, "stop");
    pthread_mutex_unlock(&j->g->mu);
    return 0;
}

/* The end of a classify job's prompt: P(toxic), then the label or the
 * reason's first step. */
static int classify_prompt_done(srv_job *j, const srv_engine_view *v, const eng_output *o, int seq_len, char *err,
                                size_t errlen) {
    double p = judge_p_toxic(o->logits, v->cfg->vocab, j->ans);
    pthread_mutex_lock(&j->g->mu);
    j->res.p_toxic = p;
    j->res.prompt_tokens = j->n_prompt;
    if (!j->reason) {
        j->res.label = isnan(p) ? JUDGE_UNPARSABLE : p >= j->threshold ? JUDGE_TOXIC : JUDGE_NON_TOXIC;
        j->res.ms = (util_now_s() - j->t_start) * 1000.0;
        finish_locked(j, "stop");
    }
    pthread_mutex_unlock(&j->g->mu);
    if (!j->reason) return 0;
    if (j->ans->n_shared > 0) {
        /* the score came after teacher-forced answer tokens: the answer
         * starts after the prompt, so its last token is fed again */
        if (eng_seq_truncate(v->c, j->seq, j->n_prompt - 1))
            return snprintf(err, errlen, "KV cache: cannot keep %d tokens", j->n_prompt - 1), -1;
        j->feed = j->prompt.ids[j->n_prompt - 1];
        j->phase = SRV_DECODE;
        return 0;
    }
    if (tok_ids_push(&j->gen, o->argmax)) return snprintf(err, errlen, "out of memory"), -1;
    return reason_token(j, v, o->argmax, seq_len, err, errlen);
}

int srv_job_on_output(srv_job *j, const srv_engine_view *v, const eng_output *o, int seq_len, char *err,
                      size_t errlen) {
    if (j->kind == SRV_JOB_CLASSIFY) {
        if (j->phase == SRV_PREFILL) return classify_prompt_done(j, v, o, seq_len, err, errlen);
        if (tok_ids_push(&j->gen, o->argmax)) return snprintf(err, errlen, "out of memory"), -1;
        return reason_token(j, v, o->argmax, seq_len, err, errlen);
    }
    int32_t tok = j->greedy ? o->argmax : eng_sampler_sample(j->sampler, o->logits);
    if (j->sampler) eng_sampler_accept(j->sampler, tok);
    if (tok_ids_push(&j->gen, tok)) return snprintf(err, errlen, "out of memory"), -1;
    return gen_token(j, v, o, tok, seq_len, err, errlen);
}
