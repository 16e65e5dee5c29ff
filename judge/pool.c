/* One classifier per device sharing a run's items; see pool.h. */
#include "judge/pool.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/time.h"

enum { TODO = 0, RUNNING, DONE };

#define MAX_CHUNK 64 /* judge_classify_batch's own limit */

typedef struct worker {
    struct judge_pool *p;
    int id;
    judge_classifier *cl;
    int chunk;               /* items per engine pass */
    pthread_t th;
    int started;
    double s_per_item;       /* measured seconds per item (moving average); 0 = not yet known */
    /* the chunk it runs (under the pool's lock) */
    unsigned gen;            /* batch the chunk belongs to */
    int busy_n;              /* items in it; 0 = idle */
    double busy_since;       /* util_now_s() when it started */
    int where[MAX_CHUNK];    /* their indices in the batch */
    int backup;              /* 1: the chunk runs items another device holds */
    /* private to the thread while it runs a chunk */
    judge_item items[MAX_CHUNK];          /* copies: the batch's items may be freed before a late chunk ends */
    const judge_item *ptrs[MAX_CHUNK];
    judge_result out[MAX_CHUNK];
} worker;

struct judge_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a batch came, items were freed, or quit */
    pthread_cond_t done;     /* an item finished or the batch failed */
    worker w[JUDGE_POOL_MAX];
    int n;
    /* the batch being classified; gen counts batches so late chunks of an
     * earlier one are recognised and dropped */
    unsigned gen;
    int active;              /* a batch is being classified */
    judge_result *out;
    const judge_item *const *items;
    int n_items, n_done, cap;
    unsigned char *state;    /* (cap) TODO, RUNNING, DONE */
    int failed;
    char err[1024];
    int quit;
    judge_pool_stats stats;
};

static void free_result(judge_result *r) {
    free((char *)r->reason);
    free((char *)r->error);
    r->reason = r->error = NULL;
}

/* Fresh items for w: up to its chunk of the batch's untaken items. */
static int take_fresh(judge_pool *p, worker *w) {
    int k = 0;
    for (int i = 0; i < p->n_items && k < w->chunk; i++)
        if (p->state[i] == TODO) {
            p->state[i] = RUNNING;
            w->where[k++] = i;
        }
    return k;
}

/* When nothing is left to take: the unfinished items of the device expected
 * to finish last, if w would finish them sooner. A device whose speed is
 * not known yet is expected to take as long as w would, unless it has
 * already run twice that long. */
static int take_backup(judge_pool *p, worker *w, double now) {
    if (w->s_per_item <= 0) return 0;
    worker *slow = NULL;
    double slow_end = 0;
    for (int j = 0; j < p->n; j++) {
        worker *o = &p->w[j];
        if (o == w || o->busy_n == 0 || o->gen != p->gen || o->backup) continue;
        double mine = o->busy_n * w->s_per_item, end;
        if (o->s_per_item > 0) end = o->busy_since + o->busy_n * o->s_per_item;
        else end = now - o->busy_since > 2 * mine ? INFINITY : o->busy_since + mine;
        if (now + mine < end && (!slow || end > slow_end)) {
            slow = o;
            slow_end = end;
        }
    }
    if (!slow) return 0;
    int k = 0;
    for (int j = 0; j < slow->busy_n && k < w->chunk; j++)
        if (p->state[slow->where[j]] == RUNNING) w->where[k++] = slow->where[j];
    return k;
}

/* Copies item i of the batch into w's slot j (the batch may end, and its
 * items be freed, before w's chunk does). */
static int copy_item(worker *w, int j, const judge_item *src) {
    judge_item *d = &w->items[j];
    *d = (judge_item){.text_len = src->text_len, .line = src->line};
    d->id = strdup(src->id);
    d->text = malloc(src->text_len + 1);
    if (!d->id || !d->text) return -1;
    memcpy(d->text, src->text, src->text_len);
    d->text[src->text_len] = 0;
    w->ptrs[j] = d;
    return 0;
}

static void free_items(worker *w, int k) {
    for (int j = 0; j < k; j++) {
        free(w->items[j].id);
        free(w->items[j].text);
        w->items[j].id = w->items[j].text = NULL;
    }
}

/* Puts w's finished chunk (under the lock) into the batch it came from, if
 * that batch is still running; items finished meanwhile are dropped. */
static void deliver(judge_pool *p, worker *w, int k, int rc, const char *e) {
    int current = p->active && w->gen == p->gen;
    for (int j = 0; j < k; j++) {
        int i = w->where[j];
        judge_result *r = &w->out[j];
        if (!current || rc || p->state[i] == DONE) {
            free_result(r);
            continue;
        }
        judge_result *dst = &p->out[i];
        const char *id = dst->id;
        char sha[65];
        memcpy(sha, dst->text_sha256, sizeof sha);
        *dst = *r;
        dst->id = id;
        memcpy(dst->text_sha256, sha, sizeof sha);
        r->reason = r->error = NULL;
        p->state[i] = DONE;
        p->n_done++;
        p->stats.items[w->id]++;
        p->stats.backups_won += w->backup;
    }
    if (current && rc && !p->failed) {
        p->failed = 1;
        snprintf(p->err, sizeof p->err, "%s", e);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    judge_pool *p = w->p;
    char e[1024];
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int k = 0;
        while (!p->quit) {
            if (p->active && !p->failed) {
                w->backup = 0;
                if ((k = take_fresh(p, w)) > 0) break;
                if ((k = take_backup(p, w, util_now_s())) > 0) {
                    w->backup = 1;
                    p->stats.backups += k;
                    break;
                }
            }
            pthread_cond_wait(&p->work, &p->mu);
        }
        if (p->quit) break;
        int rc = 0;
        for (int j = 0; j < k && !rc; j++) rc = copy_item(w, j, p->items[w->where[j]]);
        w->gen = p->gen;
        w->busy_n = k;
        w->busy_since = util_now_s();
        pthread_mutex_unlock(&p->mu);

        if (rc) snprintf(e, sizeof e, "out of memory");
        else {
            memset(w->out, 0, sizeof w->out[0] * (size_t)k);
            for (int j = 0; j < k; j++) w->out[j].p_toxic = NAN;
            rc = judge_classify_batch(w->cl, w->ptrs, k, w->out, e, sizeof e);
        }
        double dt = util_now_s() - w->busy_since;
        free_items(w, k);

        pthread_mutex_lock(&p->mu);
        if (!rc) w->s_per_item = w->s_per_item > 0 ? 0.5 * w->s_per_item + 0.5 * dt / k : dt / k;
        deliver(p, w, k, rc, e);
        w->busy_n = 0;
        pthread_cond_broadcast(&p->done);
        pthread_cond_broadcast(&p->work); /* others may back up what is left */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

judge_pool *judge_pool_create(judge_classifier *const *cls, int n, char *err, size_t errlen) {
    if (n < 1 || n > JUDGE_POOL_MAX) {
        snprintf(err, errlen, "%d devices: a pool holds 1 .. %d", n, JUDGE_POOL_MAX);
        return NULL;
    }
    judge_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n = p->stats.n = n;
    for (int i = 0; i < n; i++) {
        worker *w = &p->w[i];
        w->p = p;
        w->id = i;
        w->cl = cls[i];
        w->chunk = judge_classifier_batch(cls[i]);
        if (w->chunk < 1) w->chunk = 1;
        if (w->chunk > MAX_CHUNK) w->chunk = MAX_CHUNK;
        if (pthread_create(&w->th, NULL, worker_main, w)) {
            snprintf(err, errlen, "cannot start the thread of device %d", i);
            judge_pool_destroy(p);
            return NULL;
        }
        w->started = 1;
    }
    return p;
}

void judge_pool_destroy(judge_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->w[i].started) pthread_join(p->w[i].th, NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->state);
    free(p);
}

int judge_pool_batch(const judge_pool *p) {
    int b = 0;
    for (int i = 0; i < p->n; i++) b += p->w[i].chunk;
    return 4 * b;
}

int judge_pool_classify(void *user, const judge_item *const *items, int n, judge_result *out, char *err,
                        size_t errlen) {
    judge_pool *p = user;
    if (n <= 0) return 0;
    pthread_mutex_lock(&p->mu);
    if (n > p->cap) {
        unsigned char *s = realloc(p->state, (size_t)n);
        if (!s) {
            pthread_mutex_unlock(&p->mu);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        p->state = s;
        p->cap = n;
    }
    memset(p->state, TODO, (size_t)n);
    p->items = items;
    p->out = out;
    p->n_items = n;
    p->n_done = 0;
    p->failed = 0;
    p->active = 1;
    pthread_cond_broadcast(&p->work);
    while (!p->failed && p->n_done < n) pthread_cond_wait(&p->done, &p->mu);
    int rc = p->failed ? -1 : 0;
    if (rc) snprintf(err, errlen, "%s", p->err);
    p->active = 0; /* chunks still running belong to this batch: dropped when they end */
    p->items = NULL;
    p->out = NULL;
    p->gen++;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

judge_pool_stats judge_pool_get_stats(judge_pool *p) {
    pthread_mutex_lock(&p->mu);
    judge_pool_stats s = p->stats;
    pthread_mutex_unlock(&p->mu);
    return s;
}
