/* judge scores: P(toxic) from the model's own probabilities at the answer
 * position, and the token bookkeeping the engine needs to compute it.
 *
 * Definition. Let the answer spellings be "toxic", "Toxic" (class 1) and
 * "non-toxic", "Non-toxic" (class 0), each tokenized as the assistant's
 * reply would be (tokenize(chat(prompt) + spelling) minus the prompt's
 * tokens). Their token paths usually differ from the first token on; if
 * they share leading tokens (e.g. a space piece), those are teacher-forced
 * first. At the first position where they differ, with q = softmax(logits):
 *     T = sum of q[t] over the distinct first tokens of class-1 spellings
 *     N = the same for class 0
 *     p_toxic = T / (T + N)
 * i.e. the probability that the answer starts as a toxic spelling rather
 * than a non-toxic one. It needs no extra decode step when nothing is
 * shared (the logits come from the prefill's last position), and it is
 * defined even when the model would answer something else.
 *
 * Agreement with the greedy label: greedy decoding picks the arg-max token,
 * so when the greedy answer is a spelling of class C, class C owns the
 * single most probable first token (judge_answer_argmax_class returns C).
 * p_toxic >= 0.5 then follows whenever the other class's mass sits on one
 * first token; with two spellings per class, a split such as
 * "to" 0.30 vs "non" 0.25 + "Non" 0.25 gives greedy "toxic" with
 * p_toxic 0.375. Tests of agreement should compare the greedy label with
 * judge_answer_argmax_class, or p_toxic over lowercase spellings only. */
#ifndef PHI3VK_JUDGE_SCORE_H
#define PHI3VK_JUDGE_SCORE_H

#include <stddef.h>
#include <stdint.h>

#define JUDGE_MAX_SPELLINGS 8
#define JUDGE_MAX_SHARED 16

typedef struct judge_spelling {
    const char *text;  /* e.g. "non-toxic" */
    int cls;           /* 0 non-toxic, 1 toxic */
} judge_spelling;

/* The spellings scored: toxic, Toxic, non-toxic, Non-toxic. */
extern const judge_spelling judge_spellings[];
extern const int judge_spelling_count;

typedef struct judge_answer_tokens {
    int32_t shared[JUDGE_MAX_SHARED];         /* tokens every spelling starts with:
                                                 appended to the prompt before scoring */
    int n_shared;
    int32_t first[2][JUDGE_MAX_SPELLINGS];    /* [class][i]: distinct tokens at the
                                                 scored position */
    int n_first[2];
} judge_answer_tokens;

/* Builds the scoring tokens from n token paths (paths[i] has lens[i] tokens,
 * spelling class cls[i]). Fails with a message when n is 0 or above
 * JUDGE_MAX_SPELLINGS, a path is empty or ends inside the shared prefix,
 * more than JUDGE_MAX_SHARED tokens are shared, a class has no path, or one
 * token starts spellings of both classes (then scoring would need a deeper
 * teacher-forced step: drop the spelling that collides). */
int judge_answer_tokens_build(const int32_t *const *paths, const int *lens, const int *cls, int n,
                              judge_answer_tokens *out, char *err, size_t errlen);

/* p_toxic = T / (T + N) from the logits (n_vocab floats) at the scored
 * position, computed in double with the maximum subtracted. NaN when a token
 * id is outside [0, n_vocab) or a logit is NaN. */
double judge_p_toxic(const float *logits, int n_vocab, const judge_answer_tokens *a);

/* Class (0 or 1) of the spelling token with the largest logit; -1 when a
 * token id is out of range. Ties go to class 0. */
int judge_answer_argmax_class(const float *logits, int n_vocab, const judge_answer_tokens *a);

/* Class whose spellings start with token (0 or 1), or -1 for neither. */
int judge_answer_token_class(const judge_answer_tokens *a, int32_t token);

/* Length of the longest common prefix of a[0, na) and b[0, nb): the prompt
 * tokens whose KV cache can be reused from an earlier sequence (causal
 * attention makes a prefix's keys and values independent of what follows),
 * and the split point of tokenize(prompt + answer) into prompt and answer. */
int judge_common_prefix(const int32_t *a, int na, const int32_t *b, int nb);

#endif
