/* String set with int values; see idset.h. */
#include "judge/idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct judge_idset {
    char **keys;   /* (cap) NULL = empty slot; owned copies */
    int *values;   /* (cap) */
    size_t cap;    /* power of two */
    int count;
};

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

judge_idset *judge_idset_create(void) {
    judge_idset *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = 64;
    s->keys = calloc(s->cap, sizeof *s->keys);
    s->values = calloc(s->cap, sizeof *s->values);
    if (!s->keys || !s->values) {
        judge_idset_destroy(s);
        return NULL;
    }
    return s;
}

void judge_idset_destroy(judge_idset *s) {
    if (!s) return;
    if (s->keys)
        for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
    free(s->keys);
    free(s->values);
    free(s);
}

/* Slot holding id, or the empty slot where it would go. */
static size_t slot_of(char *const *keys, size_t cap, const char *id) {
    size_t i = (size_t)hash(id) & (cap - 1);
    while (keys[i] && strcmp(keys[i], id)) i = (i + 1) & (cap - 1);
    return i;
}

static int grow(judge_idset *s) {
    size_t cap = s->cap * 2;
    char **keys = calloc(cap, sizeof *keys);
    int *values = calloc(cap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i]) continue;
        size_t j = slot_of(keys, cap, s->keys[i]);
        keys[j] = s->keys[i];
        values[j] = s->values[i];
    }
    free(s->keys);
    free(s->values);
    s->keys = keys;
    s->values = values;
    s->cap = cap;
    return 0;
}

int judge_idset_add(judge_idset *s, const char *id, int value, int *old_value) {
    /* Keep the load factor under 1/2 so probes stay short. */
    if ((size_t)(s->count + 1) * 2 > s->cap && grow(s)) return -1;
    size_t i = slot_of(s->keys, s->cap, id);
    if (s->keys[i]) {
        if (old_value) *old_value = s->values[i];
        return 0;
    }
    size_t n = strlen(id) + 1;
    s->keys[i] = malloc(n);
    if (!s->keys[i]) return -1;
    memcpy(s->keys[i], id, n);
    s->values[i] = value;
    s->count++;
    return 1;
}

int judge_idset_get(const judge_idset *s, const char *id) {
    size_t i = slot_of(s->keys, s->cap, id);
    return s->keys[i] ? s->values[i] : -1;
}

int judge_idset_count(const judge_idset *s) { return s->count; }
