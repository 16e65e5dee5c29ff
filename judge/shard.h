/* judge shards: which items a `classify --shard K/N` run takes, so that N
 * runs on any machines (a Kubernetes Indexed Job, a Slurm array, GNU
 * parallel) split a dataset between them, each item in exactly one shard.
 *
 * An item belongs to shard 1 + (h mod N), where h is the first 8 bytes of
 * sha256(id) (the id's UTF-8 bytes) read as a big-endian integer: it depends
 * on the id alone, not on the order, the machine or the other items, so a
 * rerun, a resumed run or a run on another machine takes the same items.
 * In Python: 1 + int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big") % N. */
#ifndef PHI3VK_JUDGE_SHARD_H
#define PHI3VK_JUDGE_SHARD_H

#include <stddef.h>

#include "judge/dataset.h"

#define JUDGE_SHARD_MAX 1000000

typedef struct judge_shard {
    int k;   /* 1 .. n */
    int n;   /* shards in all, 1 .. JUDGE_SHARD_MAX; 1/1 = the whole dataset */
} judge_shard;

/* Parses "K/N" (decimal, 1 <= K <= N <= JUDGE_SHARD_MAX). Returns 0, or -1
 * with a message saying what was expected. */
int judge_shard_parse(const char *s, judge_shard *out, char *err, size_t errlen);

/* "K/N" into buf. */
void judge_shard_format(const judge_shard *s, char *buf, size_t len);

/* The shard (1 .. n) the item with this id belongs to; n >= 1. */
int judge_shard_of(const char *id, int n);

/* Keeps in idx[0, n) only the indices of ds's items that belong to shard s,
 * in their order; returns how many are left. */
int judge_shard_filter(const judge_shard *s, const judge_dataset *ds, int *idx, int n);

#endif
