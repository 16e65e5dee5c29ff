/* Engine glue of the judge: prompt tokens, prefix reuse, P(toxic), greedy
 * reasons; see classifier.h. */
#include "judge/classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "judge/label.h"
#include "model/phi3.h"
#include "tokenizer/tok.h"

/* The item text the answer paths are computed with: any text gives the same
 * paths, since the chat template's special tokens split the encoding. */
#define SAMPLE_TEXT "example"

struct judge_classifier {
    phi3_model *m;                /* not owned */
    phi3_ctx *c;                  /* not owned */
    const tok_tokenizer *tok;     /* the model's */
    const judge_prompt *prompt;   /* not owned */
    judge_classifier_opts o;
    judge_answer_tokens ans;
    int n_vocab;
    int n_ctx;
    int32_t *cached;              /* (n_cached) tokens whose KV entries the context holds */
    int n_cached;
    int cap_cached;
    tok_ids ids;                  /* the current item's tokens (scratch) */
    int32_t *gen;                 /* (max_new) generated tokens (scratch) */
    int max_new;
    judge_classifier_stats stats;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Finds the token path of every spelling after the chat-wrapped sample
 * prompt and builds the scoring tokens from them. */
static int build_answer(judge_classifier *cl, char *err, size_t errlen) {
    char *content = judge_prompt_render(cl->prompt, SAMPLE_TEXT, strlen(SAMPLE_TEXT), NULL);
    char *chat = NULL, *joined = NULL;
    tok_ids base = {0}, full[JUDGE_MAX_SPELLINGS] = {{0}};
    const int32_t *paths[JUDGE_MAX_SPELLINGS];
    int lens[JUDGE_MAX_SPELLINGS], cls[JUDGE_MAX_SPELLINGS], rc = -1;
    int n = judge_spelling_count < JUDGE_MAX_SPELLINGS ? judge_spelling_count : JUDGE_MAX_SPELLINGS;
    if (!content) {
        snprintf(err, errlen, "out of memory rendering the prompt");
        goto done;
    }
    tok_chat_msg msg = {"user", content};
    if (!(chat = tok_chat_render(&msg, 1, 1, err, errlen))) goto done;
    size_t clen = strlen(chat);
    if (!(joined = malloc(clen + 64))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (tok_encode(cl->tok, chat, clen, 0, &base, err, errlen)) goto done;
    for (int i = 0; i < n; i++) {
        const char *s = judge_spellings[i].text;
        size_t slen = strlen(s);
        if (slen > 63) slen = 63;
        memcpy(joined, chat, clen);
        memcpy(joined + clen, s, slen);
        if (tok_encode(cl->tok, joined, clen + slen, 0, &full[i], err, errlen)) goto done;
        int k = judge_common_prefix(base.ids, (int)base.n, full[i].ids, (int)full[i].n);
        if (k != (int)base.n) {
            snprintf(err, errlen,
                     "answer spelling '%s': appending it changes the tokens of the prompt's end (%d of the prompt's "
                     "%zu tokens stay), so its token path is ambiguous with this tokenizer",
                     s, k, base.n);
            goto done;
        }
        paths[i] = full[i].ids + k;
        lens[i] = (int)full[i].n - k;
        cls[i] = judge_spellings[i].cls;
    }
    rc = judge_answer_tokens_build(paths, lens, cls, n, &cl->ans, err, errlen);
done:
    for (int i = 0; i < n; i++) tok_ids_free(&full[i]);
    tok_ids_free(&base);
    free(joined);
    free(chat);
    free(content);
    return rc;
}

judge_classifier *judge_classifier_create(phi3_model *m, phi3_ctx *c, const judge_prompt *p,
                                          const judge_classifier_opts *o, char *err, size_t errlen) {
    judge_classifier *cl = calloc(1, sizeof *cl);
    if (!cl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cl->m = m;
    cl->c = c;
    cl->prompt = p;
    if (o) cl->o = *o;
    cl->tok = phi3_model_tokenizer(m);
    cl->n_vocab = phi3_model_config(m)->vocab;
    cl->n_ctx = phi3_ctx_n_ctx(c);
    cl->max_new = cl->o.max_new > 0 ? cl->o.max_new : p->max_new_reason;
    if (cl->max_new < 1) cl->max_new = 1;
    if (!cl->tok) {
        snprintf(err, errlen, "the model has no tokenizer: pass one (a tokenizer.json or a folder with one)");
        goto fail;
    }
    if (tok_n_vocab(cl->tok) > cl->n_vocab) {
        snprintf(err, errlen, "the tokenizer has %d ids, more than the model's vocabulary (%d): wrong tokenizer?",
                 (int)tok_n_vocab(cl->tok), cl->n_vocab);
        goto fail;
    }
    if (build_answer(cl, err, errlen)) goto fail;
    cl->gen = malloc(sizeof *cl->gen * (size_t)cl->max_new);
    if (!cl->gen) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    phi3_ctx_truncate(c, 0);
    return cl;
fail:
    judge_classifier_destroy(cl);
    return NULL;
}

void judge_classifier_destroy(judge_classifier *cl) {
    if (!cl) return;
    tok_ids_free(&cl->ids);
    free(cl->cached);
    free(cl->gen);
    free(cl);
}

const judge_answer_tokens *judge_classifier_answer(const judge_classifier *cl) { return &cl->ans; }

judge_classifier_stats judge_classifier_get_stats(const judge_classifier *cl) { return cl->stats; }

int judge_classifier_encode(const judge_classifier *cl, const char *text, size_t len, tok_ids *out, char *err,
                            size_t errlen) {
    if (len && memchr(text, 0, len)) {
        snprintf(err, errlen, "the text contains a NUL byte, which a chat message cannot hold");
        return -1;
    }
    size_t clen;
    char *content = judge_prompt_render(cl->prompt, text ? text : "", len, &clen);
    if (!content) {
        snprintf(err, errlen, "out of memory rendering the prompt (%zu bytes of text)", len);
        return -1;
    }
    tok_chat_msg msg = {"user", content};
    unsigned flags = TOK_CHAT_CONTENT_AS_TEXT | (cl->o.no_bos ? TOK_CHAT_NO_BOS : 0);
    int rc = tok_chat_encode(cl->tok, &msg, 1, flags, out, err, errlen);
    free(content);
    return rc;
}

/* Appends ids[0, n) to v. */
static int push_ids(tok_ids *v, const int32_t *ids, int n) {
    if (n <= 0) return 0;
    if (v->n + (size_t)n > v->cap) {
        size_t cap = v->n + (size_t)n + 64;
        int32_t *p = realloc(v->ids, sizeof *p * cap);
        if (!p) return -1;
        v->ids = p;
        v->cap = cap;
    }
    memcpy(v->ids + v->n, ids, sizeof *ids * (size_t)n);
    v->n += (size_t)n;
    return 0;
}

/* Forgets the KV cache (after an error its content is unknown). */
static void drop_cache(judge_classifier *cl) {
    cl->n_cached = 0;
    phi3_ctx_truncate(cl->c, 0);
}

/* Makes room for n tokens in cl->cached. */
static int reserve_cached(judge_classifier *cl, int n, char *err, size_t errlen) {
    if (n <= cl->cap_cached) return 0;
    int cap = n > 2 * cl->cap_cached ? n : 2 * cl->cap_cached;
    int32_t *p = realloc(cl->cached, sizeof *p * (size_t)cap);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cl->cached = p;
    cl->cap_cached = cap;
    return 0;
}

/* Records that the context now holds tokens[0, n) (not cl->cached itself). */
static int set_cached(judge_classifier *cl, const int32_t *tokens, int n, char *err, size_t errlen) {
    if (reserve_cached(cl, n, err, errlen)) return -1;
    memcpy(cl->cached, tokens, sizeof *tokens * (size_t)n);
    cl->n_cached = n;
    return 0;
}

static int append_cached(judge_classifier *cl, int32_t token, char *err, size_t errlen) {
    if (reserve_cached(cl, cl->n_cached + 1, err, errlen)) return -1;
    cl->cached[cl->n_cached++] = token;
    return 0;
}

/* Evaluates cl->ids[0, n) reusing the longest common prefix with the
 * cache; the logits of the last position are then in the context. */
static int prefill(judge_classifier *cl, int n, judge_item_detail *d, char *err, size_t errlen) {
    const int32_t *ids = cl->ids.ids;
    int reuse = cl->o.no_prefix_cache ? 0 : judge_common_prefix(cl->cached, cl->n_cached, ids, n);
    if (reuse > n - 1) reuse = n - 1;
    if (phi3_ctx_truncate(cl->c, reuse)) {
        snprintf(err, errlen, "KV cache: cannot keep %d tokens of %d", reuse, phi3_ctx_n_past(cl->c));
        return -1;
    }
    cl->n_cached = reuse;
    if (phi3_ctx_eval(cl->c, ids + reuse, n - reuse, err, errlen)) return -1;
    if (set_cached(cl, ids, n, err, errlen)) return -1;
    d->reused = reuse;
    d->evaluated = n - reuse;
    cl->stats.reused_tokens += reuse;
    cl->stats.eval_tokens += n - reuse;
    return 0;
}

static int is_stop(const phi3_config *cfg, int32_t id) {
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] == id) return 1;
    return 0;
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Greedy decoding after the prefill of a prompt of n_prompt tokens; fills
 * cl->gen and returns how many tokens were generated, or -1. */
static int generate(judge_classifier *cl, int n_prompt, const float *logits, judge_item_detail *d, char *err,
                    size_t errlen) {
    const phi3_config *cfg = phi3_model_config(cl->m);
    int32_t next;
    if (cl->ans.n_shared == 0) {
        next = argmax(logits, cl->n_vocab);
    } else {
        /* The scored position came after teacher-forced answer tokens: the
         * answer itself starts right after the prompt. */
        if (phi3_ctx_truncate(cl->c, n_prompt - 1)) {
            snprintf(err, errlen, "KV cache: cannot keep %d tokens", n_prompt - 1);
            return -1;
        }
        cl->n_cached = n_prompt - 1;
        if (phi3_ctx_decode_greedy(cl->c, cl->ids.ids[n_prompt - 1], &next, err, errlen)) return -1;
        if (append_cached(cl, cl->ids.ids[n_prompt - 1], err, errlen)) return -1;
        cl->stats.decode_steps++;
    }
    int k = 0;
    cl->gen[k++] = next;
    d->first_token = next;
    while (!is_stop(cfg, next) && k < cl->max_new && phi3_ctx_n_past(cl->c) < cl->n_ctx) {
        if (phi3_ctx_decode_greedy(cl->c, next, &next, err, errlen)) return -1;
        if (append_cached(cl, cl->gen[k - 1], err, errlen)) return -1;
        cl->stats.decode_steps++;
        cl->gen[k++] = next;
    }
    d->n_generated = k;
    return k;
}

/* The reason text of the generated tokens (a final stop token left out). */
static char *reason_text(judge_classifier *cl, int k, char *err, size_t errlen) {
    const phi3_config *cfg = phi3_model_config(cl->m);
    if (k > 0 && is_stop(cfg, cl->gen[k - 1])) k--;
    char *s = NULL;
    size_t len;
    if (tok_decode(cl->tok, cl->gen, (size_t)k, TOK_DECODE_SKIP_SPECIAL, &s, &len, err, errlen)) return NULL;
    return s;
}

int judge_classifier_run_one(judge_classifier *cl, const char *text, size_t len, judge_result *out,
                             judge_item_detail *d, char *err, size_t errlen) {
    judge_item_detail local;
    if (!d) d = &local;
    *d = (judge_item_detail){.argmax_class = -1, .first_token = -1};
    out->reason = NULL;
    out->p_toxic = NAN;
    out->label = JUDGE_UNPARSABLE;
    double t0 = now_s();
    cl->ids.n = 0;
    if (judge_classifier_encode(cl, text, len, &cl->ids, err, errlen)) return -1;
    int n_prompt = (int)cl->ids.n;
    if (push_ids(&cl->ids, cl->ans.shared, cl->ans.n_shared)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = (int)cl->ids.n;
    if (n < 1 || n > cl->n_ctx) {
        snprintf(err, errlen, "the prompt has %d tokens, more than the context's %d (a larger --ctx holds it, up to "
                              "the model's %d)", n, cl->n_ctx, phi3_model_config(cl->m)->max_pos);
        return -1;
    }
    if (prefill(cl, n, d, err, errlen)) goto fail;
    const float *logits = phi3_ctx_logits(cl->c, NULL);
    out->p_toxic = judge_p_toxic(logits, cl->n_vocab, &cl->ans);
    d->argmax_class = judge_answer_argmax_class(logits, cl->n_vocab, &cl->ans);
    out->prompt_tokens = n_prompt;
    if (!cl->o.reason) {
        out->label = isnan(out->p_toxic) ? JUDGE_UNPARSABLE : out->p_toxic >= 0.5 ? JUDGE_TOXIC : JUDGE_NON_TOXIC;
    } else {
        int k = generate(cl, n_prompt, logits, d, err, errlen);
        if (k < 0) goto fail;
        char *reason = reason_text(cl, k, err, errlen);
        if (!reason) goto fail;
        out->reason = reason;
        out->label = judge_label_snap(reason, strlen(reason), cl->prompt->snap);
    }
    cl->stats.items++;
    cl->stats.prompt_tokens += n_prompt;
    out->ms = (now_s() - t0) * 1000.0;
    return 0;
fail:
    drop_cache(cl);
    return -1;
}

int judge_classify_batch(void *user, const judge_item *const *items, int n, judge_result *out, char *err,
                         size_t errlen) {
    judge_classifier *cl = user;
    for (int i = 0; i < n; i++) {
        char e[1024];
        if (judge_classifier_run_one(cl, items[i]->text, items[i]->text_len, &out[i], NULL, e, sizeof e)) {
            snprintf(err, errlen, "item %s (line %d): %s", items[i]->id, items[i]->line, e);
            for (int j = 0; j < i; j++) {
                free((char *)out[j].reason);
                out[j].reason = NULL;
            }
            return -1;
        }
    }
    return 0;
}
