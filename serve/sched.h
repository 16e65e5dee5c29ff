/* serve scheduler: continuous batching of jobs (serve/job.h) on one engine
 * per device.
 *
 * Jobs wait in one bounded queue shared by the engines. Each engine is a
 * thread owning a model and a context of n_seq sequences; before every step
 * it takes queued jobs into its free sequences (so an idle device takes the
 * work a busy one cannot: work stealing). A job goes to the free sequence
 * whose cached tokens its prompt continues (shares at least half of them),
 * else to the one left longest ago; the keys and values of the longest
 * prefix of the job's prompt cached in any sequence are kept or copied
 * there (prefix reuse: the judge's template is computed once per engine).
 * One step then
 * appends, in one eng_step, a token to every decoding job and the next
 * chunk of the waiting prompts, at most a pass (n_batch tokens) of prompt
 * per step, so a long prompt never stalls the decoding jobs for more than a
 * pass and a request joins at the next step. Jobs leave when done; their
 * sequences keep their tokens for the next job's prefix.
 *
 * Admission stops taking prompts once a step's worth of prompt tokens is
 * waiting in the engine: further jobs stay in the shared queue, where
 * another engine may take them. */
#ifndef PHI3VK_SERVE_SCHED_H
#define PHI3VK_SERVE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "serve/job.h"
#include "serve/metrics.h"

#define SRV_MAX_ENGINES 16

typedef struct srv_sched srv_sched;

typedef struct srv_sched_opts {
    int queue_cap;          /* most jobs waiting (a request that does not fit is refused: 503) */
    srv_metrics *metrics;   /* not owned; may be NULL */
} srv_sched_opts;

/* An empty scheduler (no engine yet). NULL with err. */
srv_sched *srv_sched_create(const srv_sched_opts *o, char *err, size_t errlen);

/* Takes model m (owned from now on, also on failure), makes a context of
 * plan request r (eng_plan_make) and starts the engine's thread. 0, or -1
 * with err. */
int srv_sched_add_engine(srv_sched *s, eng_model *m, const eng_plan_request *r, char *err, size_t errlen);

/* Engines added. */
int srv_sched_engines(const srv_sched *s);

/* Engine i's model, context length and sequences. */
eng_model *srv_sched_model(srv_sched *s, int i);
int srv_sched_n_ctx(const srv_sched *s);        /* the smallest over the engines */
int srv_sched_n_seq(const srv_sched *s, int i);

/* Queues every job of g (their input filled in) that is not already done
 * (a classify item answered without the model: its prompt does not fit).
 * Returns 0; -1 when the queue has no room for them all (nothing queued:
 * answer 503), -2 when the scheduler is closed (shutting down). After a
 * failure the engines hold no reference to g. */
int srv_sched_submit(srv_sched *s, srv_group *g);

/* The client of g went away: its queued jobs end unrun, its running ones at
 * the next step. */
void srv_sched_cancel(srv_sched *s, srv_group *g);

/* From now on srv_sched_submit answers -2. */
void srv_sched_close(srv_sched *s);

/* Ends every queued and running job with the error why. */
void srv_sched_cancel_all(srv_sched *s, const char *why);

/* Jobs waiting and jobs in the engines' sequences. */
void srv_sched_counts(srv_sched *s, int *queued, int *active);

/* Device name, weight bytes and context bytes of engine i (metrics). */
void srv_sched_device(srv_sched *s, int i, const char **name, uint64_t *weights, uint64_t *context);

/* Stops the engines (cancel or finish the jobs first) and frees everything,
 * the models included. NULL is fine. */
void srv_sched_destroy(srv_sched *s);

#endif
