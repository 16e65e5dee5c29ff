/* judge scores: building the scored tokens from spelling paths (shared
 * prefix, dedup, collisions), and p_toxic against the softmax formula
 * evaluated directly. */
#include <math.h>
#include <string.h>

#include "judge/score.h"
#include "lib/check.h"

static char err[256];

static void check_build(void) {
    /* Paths as a Llama-style tokenizer might cut them: "toxic" = to|xic,
     * "Toxic" = Tox|ic, "non-toxic" = non|-|to|xic, "Non-toxic" = Non|-|to|xic. */
    const int32_t tox[] = {100, 200}, Tox[] = {101, 201}, non[] = {300, 13, 100, 200}, Non[] = {302, 13, 100, 200};
    const int32_t *paths[] = {tox, Tox, non, Non};
    int lens[] = {2, 2, 4, 4}, cls[] = {1, 1, 0, 0};
    judge_answer_tokens a;
    CHECK(judge_answer_tokens_build(paths, lens, cls, 4, &a, err, sizeof err) == 0, "%s", err);
    CHECK(a.n_shared == 0 && a.n_first[1] == 2 && a.n_first[0] == 2 && a.first[1][0] == 100 && a.first[1][1] == 101 &&
              a.first[0][0] == 300 && a.first[0][1] == 302,
          "first tokens");
    CHECK(judge_answer_token_class(&a, 101) == 1 && judge_answer_token_class(&a, 302) == 0 &&
              judge_answer_token_class(&a, 13) == -1,
          "token class");

    /* A shared leading token (a space piece) is teacher-forced first; two
     * spellings starting with the same token count it once. */
    const int32_t s1[] = {29871, 100, 200}, s2[] = {29871, 100, 201}, s3[] = {29871, 300};
    const int32_t *p2[] = {s1, s2, s3};
    int l2[] = {3, 3, 2}, c2[] = {1, 1, 0};
    CHECK(judge_answer_tokens_build(p2, l2, c2, 3, &a, err, sizeof err) == 0 && a.n_shared == 1 &&
              a.shared[0] == 29871 && a.n_first[1] == 1 && a.first[1][0] == 100 && a.n_first[0] == 1 &&
              a.first[0][0] == 300,
          "shared prefix: %s", err);

    /* One token starting both classes at the scored position is refused. */
    const int32_t x1[] = {1, 2}, x2[] = {1, 3}, x3[] = {1, 3, 4};
    const int32_t *p4[] = {x1, x2, x3};
    int l4[] = {2, 2, 3}, c4[] = {1, 1, 0};
    CHECK(judge_answer_tokens_build(p4, l4, c4, 3, &a, err, sizeof err) == -1 && strstr(err, "both classes"),
          "collision: %s", err);
    /* A path that is a prefix of all others tells nothing apart. */
    const int32_t *p5[] = {x1, x3};
    int l5[] = {1, 3}, c5[] = {1, 0};
    CHECK(judge_answer_tokens_build(p5, l5, c5, 2, &a, err, sizeof err) == -1 && strstr(err, "prefix"),
          "prefix path: %s", err);
    int l6[] = {2, 2}, c6[] = {1, 1};
    const int32_t *p6[] = {x1, x2};
    CHECK(judge_answer_tokens_build(p6, l6, c6, 2, &a, err, sizeof err) == -1 && strstr(err, "class 0 has none"),
          "one class only: %s", err);
    CHECK(judge_answer_tokens_build(p6, l6, c6, 0, &a, err, sizeof err) == -1, "no paths");
}

static void check_p_toxic(void) {
    const int32_t tox[] = {100}, Tox[] = {101}, non[] = {300}, Non[] = {302};
    const int32_t *paths[] = {tox, Tox, non, Non};
    int lens[] = {1, 1, 1, 1}, cls[] = {1, 1, 0, 0};
    judge_answer_tokens a;
    judge_answer_tokens_build(paths, lens, cls, 4, &a, err, sizeof err);
    static float logits[400];
    for (int i = 0; i < 400; i++) logits[i] = (float)(i % 17) - 3.0f; /* other tokens must not matter */
    logits[100] = 2;
    logits[101] = 0;
    logits[300] = 1;
    logits[302] = -1;
    double want = (exp(2) + exp(0)) / (exp(2) + exp(0) + exp(1) + exp(-1));
    CHECK(fabs(judge_p_toxic(logits, 400, &a) - want) < 1e-12, "p %f want %f", judge_p_toxic(logits, 400, &a), want);
    CHECK(judge_answer_argmax_class(logits, 400, &a) == 1, "argmax class");

    /* The counterexample of score.h: greedy "toxic" with p_toxic 0.375. */
    logits[100] = logf(0.30f);
    logits[101] = -INFINITY;
    logits[300] = logf(0.25f);
    logits[302] = logf(0.25f);
    CHECK(fabs(judge_p_toxic(logits, 400, &a) - 0.375) < 1e-6 && judge_answer_argmax_class(logits, 400, &a) == 1,
          "split mass");

    /* Large logits do not overflow: 1000 vs 999 -> e / (1 + e) per class. */
    logits[100] = 1000;
    logits[101] = -1e30f;
    logits[300] = 999;
    logits[302] = -1e30f;
    CHECK(fabs(judge_p_toxic(logits, 400, &a) - exp(1) / (1 + exp(1))) < 1e-9, "large logits");
    logits[302] = 1000;
    CHECK(judge_answer_argmax_class(logits, 400, &a) == 0, "tie goes to class 0");

    logits[300] = NAN;
    CHECK(isnan(judge_p_toxic(logits, 400, &a)), "NaN logit");
    logits[300] = 0;
    CHECK(isnan(judge_p_toxic(logits, 300, &a)) && judge_answer_argmax_class(logits, 300, &a) == -1,
          "token id out of range");
    for (int i = 0; i < 4; i++) logits[*paths[i]] = -INFINITY;
    CHECK(isnan(judge_p_toxic(logits, 400, &a)), "all masked");
    logits[100] = INFINITY;
    CHECK(judge_p_toxic(logits, 400, &a) == 1.0, "+inf");
}

static void check_prefix(void) {
    const int32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 9}, c[] = {7};
    CHECK(judge_common_prefix(a, 4, b, 3) == 2 && judge_common_prefix(a, 4, c, 1) == 0 &&
              judge_common_prefix(a, 4, a, 2) == 2 && judge_common_prefix(a, 0, b, 3) == 0,
          "common prefix");
    CHECK(judge_spelling_count == 4 && !strcmp(judge_spellings[2].text, "non-toxic") && judge_spellings[2].cls == 0,
          "spellings");
}

int main(void) {
    check_build();
    check_p_toxic();
    check_prefix();
    return test_finish();
}
