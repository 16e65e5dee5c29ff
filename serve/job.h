/* serve jobs: one sequence's worth of work for the engines (an item of a
 * classify request, or a chat/completion), and the group of jobs one HTTP
 * request waits on.
 *
 * A job is built by the HTTP thread (prompt tokens, parameters), queued,
 * taken by an engine (serve/sched.h) into one of its sequences, prefilled
 * (in chunks that share engine steps with other jobs) and, when it
 * generates, decoded a token per step until a stop. What the engine
 * produces (text, token log-probabilities, the classify result) is written
 * under the group's lock, and the group's condition variable wakes the
 * HTTP thread: at every token for a stream, at the end otherwise.
 *
 * Ownership: the group owns its jobs. The HTTP side and the engines each
 * hold a reference (srv_group_release drops one); the last one frees. */
#ifndef PHI3VK_SERVE_JOB_H
#define PHI3VK_SERVE_JOB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/sample.h"
#include "judge/label.h"
#include "judge/results.h"
#include "judge/score.h"
#include "serve/request.h"
#include "tokenizer/tok.h"

typedef enum srv_job_kind { SRV_JOB_CLASSIFY, SRV_JOB_GENERATE } srv_job_kind;
typedef enum srv_phase { SRV_QUEUED, SRV_PREFILL, SRV_DECODE, SRV_DONE } srv_phase;

/* One generated token, for log-probabilities. */
typedef struct srv_tokinfo {
    int32_t id;
    float logprob;              /* of the token chosen, under the model's distribution */
    int n_top;
    eng_top top[ENG_MAX_TOP];   /* the most likely alternatives */
    size_t end;                 /* the job's text length once this token's text is in */
} srv_tokinfo;

typedef struct srv_group srv_group;

typedef struct srv_job {
    srv_group *g;
    srv_job_kind kind;
    /* ---- input: set before the job is queued, read-only after ---- */
    tok_ids prompt;             /* tokens to evaluate (classify: prompt + the shared answer tokens) */
    int n_prompt;               /* classify: tokens of the chat-wrapped prompt alone */
    int max_new;                /* most tokens to generate (classify: with reason) */
    int chat;                   /* generate: a chat reply (its first leading space dropped), not a
                                   continuation */
    int greedy;                 /* generate: argmax on the device */
    eng_sampler_opts sampling;  /* generate, when not greedy */
    int logprobs, top_logprobs; /* generate: record log-probabilities (and that many alternatives) */
    char *stop[SRV_MAX_STOP];   /* generate: stop strings (owned) */
    int n_stop;
    const judge_answer_tokens *ans; /* classify: the prompt's answer tokens (owned by the group) */
    judge_snap snap;            /* classify with reason: how the answer becomes a label */
    int reason;                 /* classify: generate the reason */
    double threshold;           /* classify: P(toxic) at or above which the label is toxic */
    /* ---- engine state: the engine thread only ---- */
    int seq;                    /* the engine sequence, -1 while queued */
    int n_fed;                  /* prompt tokens in the sequence */
    int32_t feed;               /* the next token to append while decoding */
    tok_ids gen;                /* generated tokens (a final stop token included) */
    eng_sampler *sampler;
    tok_stream *stream;         /* generate: text of the tokens */
    double t_start;             /* util_now_s() when an engine took it */
    /* ---- output: under g->mu ---- */
    srv_phase phase;
    char *text;                 /* generate: the text so far (NUL-terminated) */
    size_t text_len, text_cap;
    size_t text_safe;           /* bytes of text that no stop string can still cut */
    srv_tokinfo *toks;          /* generate with logprobs: (n_toks) */
    int n_toks, cap_toks;
    const char *finish;         /* "stop", "length", or NULL while running */
    int n_generated;            /* tokens generated (a final stop token included), once done */
    char *error;                /* the engine failed on this job (malloc'ed), or NULL */
    judge_result res;           /* classify: label, p_toxic, reason, error, id (all owned), prompt_tokens,
                                   ms, text_sha256 */
    int reused;                 /* prompt tokens taken from the KV cache */
    double t_submit, t_first, t_done;
} srv_job;

struct srv_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* broadcast at every change a waiter may want */
    srv_job *jobs;              /* (n_jobs) */
    int n_jobs, n_done;
    int n_left;                 /* jobs the scheduler has let go of (the last drops its reference) */
    int cancelled;              /* the client went away: engines drop the jobs */
    int refs;
    judge_answer_tokens ans;    /* the classify prompt's (jobs point here) */
    unsigned long changes;      /* bumped at every change */
};

/* A group of n zeroed jobs (phase QUEUED, seq -1) with refs = 2 (the HTTP
 * side and the engine side). NULL when out of memory. */
srv_group *srv_group_create(int n);

/* Drops a reference; the last frees the jobs and everything they own. */
void srv_group_release(srv_group *g);

/* ---- engine side (serve/job.c); the caller holds no lock ---- */

/* What a job needs from the engine that runs it. */
typedef struct srv_engine_view {
    eng_ctx *c;
    const tok_tokenizer *tok;
    const phi3_config *cfg;
    int n_ctx;
} srv_engine_view;

/* Prepares j for its engine (sampler, text decoder). 0, or -1 with err. */
int srv_job_begin(srv_job *j, const srv_engine_view *v, char *err, size_t errlen);

/* Handles the outputs of the step that appended j's last prompt token
 * (classify: P(toxic), the label unless reason; generate: the first token)
 * or one decoded token. Sets j->phase to SRV_DECODE (j->feed the next
 * token) or SRV_DONE. seq_len: the sequence's tokens after the step. */
int srv_job_on_output(srv_job *j, const srv_engine_view *v, const eng_output *o, int seq_len, char *err,
                      size_t errlen);

/* Ends j with an error (the engine failed). */
void srv_job_fail(srv_job *j, const char *why);

/* Frees the engine state of j (after SRV_DONE). */
void srv_job_end(srv_job *j);

/* What the step for j asks the engine: ENG_LOGITS and top_k when j needs
 * them at this point. */
unsigned srv_job_want(const srv_job *j, int *top_k);

#endif
