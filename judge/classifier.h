/* judge classifier: the engine glue of classify and eval. It turns an item's
 * text into the chat-wrapped prompt tokens, runs them through a eng_ctx and
 * reads the label, P(toxic) and, on request, the model's reason.
 *
 * Tokens of an item: BOS (the April-2024 Phi-3 template the judge was tuned
 * from starts with it), then tok_chat_encode of one user message whose
 * content is judge_prompt_render(prompt, text), ending in the assistant
 * prompt; the message content is encoded as text (TOK_CHAT_CONTENT_AS_TEXT),
 * so a text holding "<|end|><|assistant|>" cannot forge the conversation.
 * Then the answer tokens every spelling shares (judge_answer_tokens.shared,
 * usually none) are appended and teacher-forced.
 *
 * Answer paths (judge/score.h) are found once: the chat text P of a sample
 * item and P + spelling are encoded with the same tok_encode call; the
 * spelling's path is what follows their common prefix. Creation fails when
 * appending a spelling changes P's own tokens (the split would be ambiguous).
 *
 * Batches: item j of a batch goes to sequence j of the context (n_seq
 * sequences = items per engine pass); the prompts are evaluated together
 * (eng_ctx_eval_batch) and, with reasons, decoded in lockstep, one pass per
 * step for every sequence still generating (sequence 0 alone uses the
 * pre-recorded decode step with the arg-max on the device).
 *
 * Prefix reuse: each sequence's KV cache keeps its previous item's tokens;
 * the next item truncates it to the longest common token prefix (capped one
 * short of its length, so the last position is always computed and yields
 * logits) and evaluates only the rest. The part of the prompt before the
 * text is the same for every item, so each sequence computes it once per
 * run.
 *
 * Modes:
 * - label only (default, no decode step): P(toxic) from the logits of the
 *   prefill's last position; label = toxic when P(toxic) >= the threshold
 *   (0.5 unless opts.threshold says otherwise), else
 *   non-toxic, so label and score agree by construction (unparsable only when
 *   the score is NaN). This is a forced choice between the two classes; the
 *   greedy answer could differ in the split case score.h describes, and
 *   judge_item_detail.argmax_class says what greedy decoding would start with.
 * - reason: the same P(toxic), then greedy decoding (the device's argmax) of
 *   up to max_new tokens, stopping at one of the model's stop ids or a full
 *   context; the text (stop token left out, special tokens skipped) is the
 *   reason and is snapped with the prompt's rule to give the label. */
#ifndef PHI3VK_JUDGE_CLASSIFIER_H
#define PHI3VK_JUDGE_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "judge/dataset.h"
#include "judge/prompt.h"
#include "judge/results.h"
#include "judge/score.h"

typedef struct eng_model eng_model;
typedef struct eng_ctx eng_ctx;
struct tok_ids;

typedef struct judge_classifier judge_classifier;

/* P(toxic) at or above which a label-only run answers toxic. */
#define JUDGE_DEFAULT_THRESHOLD 0.5

/* What happens to an item whose prompt does not fit the context. */
typedef enum judge_too_long {
    JUDGE_TOO_LONG_SKIP = 0,   /* the item gets an error result ("label":"error" and why); the run goes on */
    JUDGE_TOO_LONG_ERROR,      /* the batch fails, and with it the run */
    JUDGE_TOO_LONG_TRUNCATE,   /* the item's text (never the instructions) is cut to the longest
                                  prefix, on a character boundary, whose prompt fits; truncated = 1 */
} judge_too_long;

/* "skip", "error", "truncate". */
const char *judge_too_long_name(judge_too_long t);
/* Parses those names; 0, or -1 for any other. */
int judge_too_long_parse(const char *name, judge_too_long *out);

typedef struct judge_classifier_opts {
    int reason;           /* 1: generate the reason (slow path); 0: label and score only */
    int max_new;          /* with reason: most new tokens, stop token included;
                             <= 0: the prompt's max_new_reason (56) */
    int no_prefix_cache;  /* 1: every item starts from an empty KV cache
                             (measurements and tests of the reuse) */
    int no_bos;           /* 1: no BOS before the chat template */
    judge_too_long too_long; /* judge_classify_batch's policy for prompts that do not fit */
    double threshold;     /* label-only runs: toxic when P(toxic) >= threshold; 0: JUDGE_DEFAULT_THRESHOLD */
} judge_classifier_opts;

/* Counters over the classifier's lifetime. */
typedef struct judge_classifier_stats {
    long long items;          /* items classified */
    long long prompt_tokens;  /* chat-wrapped prompt tokens of those items */
    long long eval_tokens;    /* tokens computed by prefill (forced answer tokens included) */
    long long reused_tokens;  /* prompt tokens whose KV entries were reused */
    long long decode_steps;   /* single-token decode steps (reason mode) */
    long long decode_passes;  /* engine passes of those steps (one per lockstep step of a batch) */
    double prefill_s;         /* wall time of the prompt passes (engine steps), seconds */
    double decode_s;          /* wall time of the decode passes, seconds */
} judge_classifier_stats;

/* What happened inside one item, for tests and -v. */
typedef struct judge_item_detail {
    int argmax_class;     /* judge_answer_argmax_class at the answer position (-1: undefined) */
    int32_t first_token;  /* reason mode: the first generated token; -1 otherwise */
    int n_generated;      /* reason mode: tokens generated, a final stop token included */
    int reused;           /* prompt tokens taken from the KV cache */
    int evaluated;        /* tokens computed by prefill */
} judge_item_detail;

/* Creates a classifier over model m and context c (neither owned; every
 * sequence of c is truncated to 0 and then used by the classifier alone)
 * for prompt p (not copied: it must outlive the classifier). The model must
 * have a tokenizer. Fails with a message when it has none, when the answer
 * paths cannot be built (see the file comment and judge_answer_tokens_build)
 * or when out of memory. */
judge_classifier *judge_classifier_create(eng_model *m, eng_ctx *c, const judge_prompt *p,
                                          const judge_classifier_opts *o, char *err, size_t errlen);

/* Frees the classifier (not the model, context or prompt). NULL is fine. */
void judge_classifier_destroy(judge_classifier *cl);

/* The answer tokens built at creation (P(toxic)'s bookkeeping). */
const judge_answer_tokens *judge_classifier_answer(const judge_classifier *cl);

/* APPENDS the chat-wrapped prompt tokens of text[0, len) with prompt p and
 * tokenizer t (BOS first unless no_bos; the shared answer tokens not
 * included) to out: what a classifier evaluates, available before a
 * context exists (to size one). Fails for a text holding a NUL byte (a chat
 * message cannot) or when out of memory. */
typedef struct tok_tokenizer tok_tokenizer;
int judge_prompt_encode(const tok_tokenizer *t, const judge_prompt *p, int no_bos, const char *text, size_t len,
                        struct tok_ids *out, char *err, size_t errlen);

/* judge_prompt_encode with the classifier's tokenizer, prompt and no_bos. */
int judge_classifier_encode(const judge_classifier *cl, const char *text, size_t len, struct tok_ids *out, char *err,
                            size_t errlen);

/* Classifies one text in sequence 0: fills out->label, p_toxic, reason
 * (malloc'ed, caller frees; NULL unless reason mode), prompt_tokens and ms
 * (this item's wall time); not out->id. d may be NULL. Fails, before the
 * engine runs and with the caches kept, for a text encode rejects or a
 * prompt that does not fit ("the prompt has N tokens, more than the
 * context's C"); on an engine error every cache is dropped and the next item
 * starts from an empty one. */
int judge_classifier_run_one(judge_classifier *cl, const char *text, size_t len, judge_result *out,
                             judge_item_detail *d, char *err, size_t errlen);

/* judge_classify_fn for judge_run (user = the classifier): the n items in
 * engine passes of n_seq items (see the file comment); ms of each item is
 * its pass's wall time / items in it. An item whose prompt does not fit the
 * context follows the too_long policy (skip: label JUDGE_ERROR with the
 * reason in error, malloc'ed; truncate: cut and marked truncated). A failure
 * names the item (a text that cannot be encoded, or does not fit under the
 * error policy) or the items of the failed pass. */
int judge_classify_batch(void *cl, const judge_item *const *items, int n, judge_result *out, char *err,
                         size_t errlen);

/* Counters since creation. */
judge_classifier_stats judge_classifier_get_stats(const judge_classifier *cl);

/* Items per engine pass: the context's sequences (judge/pool.c hands each
 * classifier that many at a time). */
int judge_classifier_batch(const judge_classifier *cl);

/* Builds into *out the answer tokens of prompt p with tokenizer t (see the
 * file comment): what judge_classifier_create builds, for callers that run
 * their own engine steps (serve/). Fails as judge_classifier_create does. */
int judge_answer_build(const tok_tokenizer *t, const judge_prompt *p, judge_answer_tokens *out, char *err,
                       size_t errlen);

/* The reason text of k generated tokens gen (a final stop token of cfg left
 * out, special tokens and ids past the tokenizer's vocabulary skipped),
 * malloc'ed; NULL with err when out of memory. */
struct phi3_config;
char *judge_reason_decode(const tok_tokenizer *t, const struct phi3_config *cfg, const int32_t *gen, int k, char *err,
                          size_t errlen);

#endif
