/* Shards of a dataset by a hash of the item ids; see shard.h. */
#include "judge/shard.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

/* One decimal number in [1, JUDGE_SHARD_MAX] at s[0, n); -1 otherwise. */
static long number(const char *s, size_t n) {
    if (n == 0 || n > 7) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= JUDGE_SHARD_MAX ? v : -1;
}

int judge_shard_parse(const char *s, judge_shard *out, char *err, size_t errlen) {
    const char *slash = s ? strchr(s, '/') : NULL;
    long k = slash ? number(s, (size_t)(slash - s)) : -1, n = slash ? number(slash + 1, strlen(slash + 1)) : -1;
    if (k < 0 || n < 0 || k > n) {
        snprintf(err, errlen, "--shard: expected K/N with 1 <= K <= N <= %d (shard K of N, e.g. 1/4), found '%.64s'",
                 JUDGE_SHARD_MAX, s ? s : "");
        return -1;
    }
    out->k = (int)k;
    out->n = (int)n;
    return 0;
}

void judge_shard_format(const judge_shard *s, char *buf, size_t len) { snprintf(buf, len, "%d/%d", s->k, s->n); }

int judge_shard_of(const char *id, int n) {
    util_sha256 h;
    char hex[65];
    util_sha256_init(&h);
    util_sha256_update(&h, id, strlen(id));
    util_sha256_final(&h, hex);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = hex[i];
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return n <= 1 ? 1 : 1 + (int)(v % (uint64_t)n);
}

int judge_shard_filter(const judge_shard *s, const judge_dataset *ds, int *idx, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (s->n <= 1 || judge_shard_of(ds->items[idx[i]].id, s->n) == s->k) idx[m++] = idx[i];
    return m;
}
