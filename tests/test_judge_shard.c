/* judge shards (classify --shard K/N): the parser's accepted and refused
 * forms, the shard of known ids against values computed independently in
 * Python (1 + int.from_bytes(sha256(id).digest()[:8], "big") % N, as the
 * README documents it), and that the N shards of a dataset split it: every
 * item in exactly one, each shard keeping file order, and roughly evenly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/shard.h"
#include "lib/check.h"

static void parse_cases(void) {
    judge_shard s;
    char err[256];
    CHECK(judge_shard_parse("1/1", &s, err, sizeof err) == 0 && s.k == 1 && s.n == 1, "1/1");
    CHECK(judge_shard_parse("3/4", &s, err, sizeof err) == 0 && s.k == 3 && s.n == 4, "3/4");
    CHECK(judge_shard_parse("1000000/1000000", &s, err, sizeof err) == 0, "the largest N");
    const char *bad[] = {"", "1", "0/4", "5/4", "1/0", "-1/4", "1/4x", " 1/4", "1//4", "1/1000001", "a/b", "1/", "/4",
                         "99999999999/99999999999", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        CHECK(judge_shard_parse(bad[i], &s, err, sizeof err) == -1 && strstr(err, "K/N"), "'%s' refused: %s", bad[i],
              err);
    }
    CHECK(judge_shard_parse(NULL, &s, err, sizeof err) == -1, "NULL refused");
    char buf[32];
    judge_shard_format(&(judge_shard){2, 7}, buf, sizeof buf);
    CHECK(!strcmp(buf, "2/7"), "format: %s", buf);
}

static void known_values(void) {
    static const struct {
        const char *id;
        int want[6]; /* for N = 1, 2, 3, 4, 7, 1000000 */
    } cases[] = {
        {"1", {1, 2, 2, 2, 3, 162914}},     {"2", {1, 1, 2, 3, 4, 262447}},
        {"17", {1, 2, 1, 4, 5, 779352}},    {"abc", {1, 1, 1, 3, 3, 700075}},
        {"\xC3\xA9-id", {1, 2, 1, 4, 6, 576532}},
    };
    static const int ns[6] = {1, 2, 3, 4, 7, 1000000};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int i = 0; i < 6; i++) {
            int got = judge_shard_of(cases[c].id, ns[i]);
            CHECK(got == cases[c].want[i], "id '%s' N %d: shard %d, Python says %d", cases[c].id, ns[i], got,
                  cases[c].want[i]);
        }
}

static void split(void) {
    enum { N_ITEMS = 1000, N_SHARDS = 4 };
    judge_dataset ds = {.n = N_ITEMS};
    ds.items = calloc(N_ITEMS, sizeof *ds.items);
    char (*ids)[16] = calloc(N_ITEMS, sizeof *ids);
    int *seen = calloc(N_ITEMS, sizeof *seen), idx[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i + 1);
        ds.items[i].id = ids[i];
    }
    for (int k = 1; k <= N_SHARDS; k++) {
        for (int i = 0; i < N_ITEMS; i++) idx[i] = i;
        judge_shard s = {k, N_SHARDS};
        int n = judge_shard_filter(&s, &ds, idx, N_ITEMS);
        CHECK(n > N_ITEMS / N_SHARDS * 8 / 10 && n < N_ITEMS / N_SHARDS * 12 / 10, "shard %d holds %d of %d", k, n,
              N_ITEMS);
        for (int i = 0; i < n; i++) {
            seen[idx[i]]++;
            CHECK(i == 0 || idx[i] > idx[i - 1], "shard %d keeps file order", k);
            CHECK(judge_shard_of(ds.items[idx[i]].id, N_SHARDS) == k, "item in its shard");
        }
    }
    int once = 0;
    for (int i = 0; i < N_ITEMS; i++) once += seen[i] == 1;
    CHECK(once == N_ITEMS, "every item in exactly one shard: %d of %d", once, N_ITEMS);
    for (int i = 0; i < N_ITEMS; i++) idx[i] = i;
    CHECK(judge_shard_filter(&(judge_shard){1, 1}, &ds, idx, N_ITEMS) == N_ITEMS, "1/1 keeps everything");
    free(ds.items);
    free(ids);
    free(seen);
}

int main(void) {
    parse_cases();
    known_values();
    split();
    return test_finish();
}
