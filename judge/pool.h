/* judge pools: one classifier per device (classify / eval --device 0,1 or
 * all), sharing the items of a run so that every device stays busy and a
 * slow one does not hold the run.
 *
 * judge_pool_classify is a judge_classify_fn: judge_run hands it a batch and
 * it returns when every item of the batch has a result. Inside, each device
 * has a thread that takes the next items not yet taken, as many as its
 * classifier runs in one engine pass (judge_classifier_batch), classifies
 * them, and comes back for more: a faster device takes more of the batch.
 * When nothing is left to take, an idle device may run again items that a
 * slower device still holds, if it would finish them sooner (from each
 * device's measured seconds per item); the first result of an item is kept,
 * the other dropped. So a batch ends about when the fastest device could
 * end it, not when the slowest does. Results are the classifiers' own, so
 * every item gets the result one device would give (labels equal, P(toxic)
 * within the engine's batch-to-batch rounding). */
#ifndef PHI3VK_JUDGE_POOL_H
#define PHI3VK_JUDGE_POOL_H

#include <stddef.h>

#include "judge/classifier.h"

#define JUDGE_POOL_MAX 16

typedef struct judge_pool judge_pool;

typedef struct judge_pool_stats {
    int n;                              /* devices */
    long long items[JUDGE_POOL_MAX];    /* results kept from device i */
    long long backups;                  /* items run again on an idle device */
    long long backups_won;              /* ... whose result came first */
} judge_pool_stats;

/* A pool over n classifiers (1 .. JUDGE_POOL_MAX; not owned: they must
 * outlive the pool), each with its own model and context (one device each),
 * started with one thread per classifier. NULL with err when n is out of
 * range or a thread cannot start. */
judge_pool *judge_pool_create(judge_classifier *const *cls, int n, char *err, size_t errlen);

/* Stops the threads (each finishes the items it is running) and frees the
 * pool. NULL is fine. */
void judge_pool_destroy(judge_pool *p);

/* The batch to give judge_pool_classify: four engine passes of every device,
 * so that the devices share each batch. */
int judge_pool_batch(const judge_pool *p);

/* judge_classify_fn (judge/run.h), user = the pool: classifies items[0, n)
 * on the devices as the file comment says; out[i] as judge_classify_batch
 * fills it. Fails, with the first failing device's message, when a
 * classifier fails (the results already in out stay there). */
int judge_pool_classify(void *pool, const judge_item *const *items, int n, judge_result *out, char *err,
                        size_t errlen);

/* Counters since creation. */
judge_pool_stats judge_pool_get_stats(judge_pool *p);

#endif
