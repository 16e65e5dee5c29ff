/* Labels to classes and the choice of a run's items (see judge/dataset.h):
 * eval's side of a dataset, apart from reading it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/dataset.h"

/* s without surrounding ASCII whitespace: start and length. */
static const char *trim(const char *s, size_t *n) {
    size_t len = strlen(s);
    while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n')) len--;
    *n = len;
    return s;
}

static int same_label(const char *a, size_t na, const char *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

int judge_dataset_classes(const judge_dataset *ds, const char *positive, int *cls, char *err, size_t errlen) {
    size_t np;
    const char *pos = trim(positive, &np);
    /* Distinct labels, in order of first appearance, with counts. */
    enum { MAXV = 8 };
    int first[MAXV], count[MAXV], nv = 0, more = 0;
    for (int i = 0; i < ds->n; i++) {
        if (!ds->items[i].label) {
            snprintf(err, errlen, "%s: labels were not read (no label column or field)", ds->source);
            return -1;
        }
        size_t n;
        const char *l = trim(ds->items[i].label, &n);
        cls[i] = same_label(l, n, pos, np);
        int v = 0;
        for (; v < nv; v++) {
            size_t m;
            const char *u = trim(ds->items[first[v]].label, &m);
            if (same_label(l, n, u, m)) break;
        }
        if (v < nv) count[v]++;
        else if (nv < MAXV) first[nv] = i, count[nv++] = 1;
        else more = 1;
    }
    int n_pos_values = 0, n_neg_values = 0;
    for (int v = 0; v < nv; v++) {
        if (cls[first[v]]) n_pos_values++;
        else n_neg_values++;
    }
    /* one value of each class, or a file of one class only (either one) */
    if (((n_pos_values == 1 && n_neg_values <= 1) || (n_pos_values == 0 && n_neg_values == 1)) && !more) return 0;
    int k = snprintf(err, errlen, "%s: expected labels '%.*s' and one other value; found", ds->source, (int)np, pos);
    for (int v = 0; v < nv && k >= 0 && (size_t)k < errlen; v++)
        k += snprintf(err + k, errlen - (size_t)k, "%s '%s' (%d)", v ? "," : "", ds->items[first[v]].label,
                      count[v]);
    if (k >= 0 && (size_t)k < errlen) snprintf(err + k, errlen - (size_t)k, "%s", more ? ", ..." : nv ? "" : " no items");
    return -1;
}

/* splitmix64: a small, well-mixed PRNG; the stream only depends on seed. */
static uint64_t next_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int judge_select(int n, const int *cls, int limit, int balance, uint64_t seed, int *idx) {
    if (!balance) {
        int k = (limit > 0 && limit < n) ? limit : n;
        for (int i = 0; i < k; i++) idx[i] = i;
        return k;
    }
    int count[2] = {0, 0};
    for (int i = 0; i < n; i++) count[cls[i] ? 1 : 0]++;
    int k = count[0] < count[1] ? count[0] : count[1];
    if (limit > 0 && limit / 2 < k) k = limit / 2;
    int out = 0;
    uint64_t state = seed;
    for (int c = 0; c < 2; c++) {
        /* Gather the class's indices at idx[out..], then a partial
         * Fisher-Yates shuffle draws k of them into the front. */
        int m = 0;
        for (int i = 0; i < n; i++)
            if ((cls[i] ? 1 : 0) == c) idx[out + m++] = i;
        for (int j = 0; j < k; j++) {
            int r = j + (int)(next_rand(&state) % (uint64_t)(m - j));
            int t = idx[out + j];
            idx[out + j] = idx[out + r];
            idx[out + r] = t;
        }
        out += k;
    }
    qsort(idx, (size_t)out, sizeof *idx, cmp_int);
    return out;
}
