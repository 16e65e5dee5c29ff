/* Fuzz target: results files read back by eval --predictions. The input is
 * split at 0x01 bytes into up to four files (shards), read with
 * judge_predictions_parse and checked against a fixed labelled set of ids
 * "1".."9". Invariants (abort): a refusal has a message; an accepted set has
 * at most one result per id, and covering either fails with a message or
 * gives every item a result for its own id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/predictions.h"

#define N_ITEMS 9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *bufs[4], *names[4] = {"a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl"};
    size_t lens[4];
    int n = 0;
    const char *p = (const char *)data, *end = p + size;
    for (;;) { /* the last file takes the rest, separators included */
        const char *sep = n < 3 ? memchr(p, 1, (size_t)(end - p)) : NULL;
        bufs[n] = p;
        lens[n] = sep ? (size_t)(sep - p) : (size_t)(end - p);
        n++;
        if (!sep) break;
        p = sep + 1;
    }
    char err[4096] = "";
    judge_predictions *pr = judge_predictions_parse(bufs, lens, names, n, err, sizeof err);
    if (!pr) {
        if (!err[0]) abort();
        return 0;
    }
    if (judge_predictions_count(pr) < 0) abort();
    judge_dataset ds = {.n = N_ITEMS};
    judge_item items[N_ITEMS];
    char ids[N_ITEMS][4], texts[N_ITEMS][8];
    int idx[N_ITEMS];
    judge_run_result res[N_ITEMS];
    memset(items, 0, sizeof items);
    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i + 1);
        snprintf(texts[i], sizeof texts[i], "t%d", i + 1);
        items[i] = (judge_item){.id = ids[i], .text = texts[i], .text_len = strlen(texts[i]), .line = i + 1};
        idx[i] = i;
    }
    ds.items = items;
    err[0] = 0;
    if (judge_predictions_cover(pr, &ds, idx, N_ITEMS, res, err, sizeof err)) {
        if (!err[0]) abort();
    } else {
        for (int i = 0; i < N_ITEMS; i++)
            if (!res[i].done || strcmp(res[i].r.id, ids[i])) abort();
        judge_run_results_free(res, N_ITEMS);
    }
    judge_predictions_destroy(pr);
    return 0;
}
