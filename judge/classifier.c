/* Engine glue of the judge: prompt tokens, prefix reuse, P(toxic), greedy
 * reasons; see classifier.h. */
#include "judge/classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "judge/label.h"
#include "engine/engine.h"
#include "tokenizer/tok.h"
#include "util/time.h"

/* The item text the answer paths are computed with: any text gives the same
 * paths, since the chat template's special tokens split the encoding. */
#define SAMPLE_TEXT "example"

/* One sequence of the context: the item it holds in the current batch. */
typedef struct seq_state {
    tok_ids ids;        /* the item's tokens: prompt, then the shared answer tokens */
    int n_prompt;       /* tokens of the chat-wrapped prompt */
    int32_t *gen;       /* (max_new + 1) generated tokens */
    int n_gen;
    int active;         /* still generating */
    int32_t first;      /* the device's argmax after the prompt */
    const float *logits; /* the logits after the prompt (valid until the next engine step) */
} seq_state;

struct judge_classifier {
    eng_model *m;                /* not owned */
    eng_ctx *c;                  /* not owned */
    const tok_tokenizer *tok;     /* the model's */
    const judge_prompt *prompt;   /* not owned */
    judge_classifier_opts o;
    judge_answer_tokens ans;
    int n_vocab;
    int n_ctx;                    /* tokens per sequence */
    int n_seq;                    /* sequences of the context: items per engine pass */
    int max_new;
    seq_state *seq;               /* (n_seq) */
    eng_input *in;                /* (n_seq) the inputs of one engine step */
    eng_output *out;              /* (n_seq) and its outputs */
    judge_classifier_stats stats;
};


/* Finds the token path of every spelling after the chat-wrapped sample
 * prompt and builds the scoring tokens from them. */
int judge_answer_build(const tok_tokenizer *t, const judge_prompt *p, judge_answer_tokens *out, char *err,
                       size_t errlen) {
    char *content = judge_prompt_render(p, SAMPLE_TEXT, strlen(SAMPLE_TEXT), NULL);
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
    if (tok_encode(t, chat, clen, 0, &base, err, errlen)) goto done;
    for (int i = 0; i < n; i++) {
        const char *s = judge_spellings[i].text;
        size_t slen = strlen(s);
        if (slen > 63) slen = 63;
        memcpy(joined, chat, clen);
        memcpy(joined + clen, s, slen);
        if (tok_encode(t, joined, clen + slen, 0, &full[i], err, errlen)) goto done;
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
    rc = judge_answer_tokens_build(paths, lens, cls, n, out, err, errlen);
done:
    for (int i = 0; i < n; i++) tok_ids_free(&full[i]);
    tok_ids_free(&base);
    free(joined);
    free(chat);
    free(content);
    return rc;
}

judge_classifier *judge_classifier_create(eng_model *m, eng_ctx *c, const judge_prompt *p,
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
    cl->tok = eng_model_tokenizer(m);
    cl->n_vocab = eng_model_config(m)->vocab;
    cl->n_ctx = eng_ctx_n_ctx(c);
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
    if (judge_answer_build(cl->tok, p, &cl->ans, err, errlen)) goto fail;
    cl->n_seq = eng_ctx_n_seq(c);
    cl->seq = calloc((size_t)cl->n_seq, sizeof *cl->seq);
    cl->in = calloc((size_t)cl->n_seq, sizeof *cl->in);
    cl->out = calloc((size_t)cl->n_seq, sizeof *cl->out);
    if (!cl->seq || !cl->in || !cl->out) goto oom;
    for (int j = 0; j < cl->n_seq; j++) {
        if (!(cl->seq[j].gen = malloc(sizeof *cl->seq[j].gen * (size_t)(cl->max_new + 1)))) goto oom;
        eng_seq_truncate(c, j, 0);
    }
    return cl;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    judge_classifier_destroy(cl);
    return NULL;
}

void judge_classifier_destroy(judge_classifier *cl) {
    if (!cl) return;
    for (int j = 0; cl->seq && j < cl->n_seq; j++) {
        tok_ids_free(&cl->seq[j].ids);
        free(cl->seq[j].gen);
    }
    free(cl->seq);
    free(cl->in);
    free(cl->out);
    free(cl);
}

const judge_answer_tokens *judge_classifier_answer(const judge_classifier *cl) { return &cl->ans; }

judge_classifier_stats judge_classifier_get_stats(const judge_classifier *cl) { return cl->stats; }

int judge_classifier_batch(const judge_classifier *cl) { return cl->n_seq; }

int judge_prompt_encode(const tok_tokenizer *t, const judge_prompt *p, int no_bos, const char *text, size_t len,
                        tok_ids *out, char *err, size_t errlen) {
    if (len && memchr(text, 0, len)) {
        snprintf(err, errlen, "the text contains a NUL byte, which a chat message cannot hold");
        return -1;
    }
    size_t clen;
    char *content = judge_prompt_render(p, text ? text : "", len, &clen);
    if (!content) {
        snprintf(err, errlen, "out of memory rendering the prompt (%zu bytes of text)", len);
        return -1;
    }
    tok_chat_msg msg = {"user", content};
    unsigned flags = TOK_CHAT_CONTENT_AS_TEXT | (no_bos ? TOK_CHAT_NO_BOS : 0);
    int rc = tok_chat_encode(t, &msg, 1, flags, out, err, errlen);
    free(content);
    return rc;
}

int judge_classifier_encode(const judge_classifier *cl, const char *text, size_t len, tok_ids *out, char *err,
                            size_t errlen) {
    return judge_prompt_encode(cl->tok, cl->prompt, cl->o.no_bos, text, len, out, err, errlen);
}

/* Forgets every sequence's KV cache (after an engine error its content is
 * unknown). */
static void drop_cache(judge_classifier *cl) {
    for (int j = 0; j < cl->n_seq; j++) eng_seq_truncate(cl->c, j, 0);
}

static int is_stop(const phi3_config *cfg, int32_t id) {
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] == id) return 1;
    return 0;
}


/* Why a prompt of n tokens (shared answer tokens included) does not fit;
 * a larger --ctx is suggested only when the model allows one. Returns -1. */
static int too_long_message(const judge_classifier *cl, int n, char *err, size_t errlen) {
    int max = eng_model_config(cl->m)->max_pos;
    if (cl->n_ctx >= max)
        snprintf(err, errlen, "the prompt has %d tokens, more than the model's context of %d", n, max);
    else
        snprintf(err, errlen, "the prompt has %d tokens, more than the context's %d (a larger --ctx holds more, up to the model's %d)",
                 n, cl->n_ctx, max);
    return -1;
}

/* Encodes text into sequence j's state; checks that it fits the context. */
static int encode_item(judge_classifier *cl, int j, const char *text, size_t len, char *err, size_t errlen) {
    seq_state *q = &cl->seq[j];
    q->ids.n = 0;
    q->n_gen = 0;
    q->active = 0;
    if (judge_classifier_encode(cl, text, len, &q->ids, err, errlen)) return -1;
    q->n_prompt = (int)q->ids.n;
    for (int i = 0; i < cl->ans.n_shared; i++)
        if (tok_ids_push(&q->ids, cl->ans.shared[i])) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    int n = (int)q->ids.n;
    if (n > cl->n_ctx) return too_long_message(cl, n, err, errlen);
    return 0;
}

/* Prefill of sequences 0..k-1 in one engine step, each reusing the longest
 * common prefix with what its own cache holds; keeps each one's logits
 * (until the next step) and the device's argmax. */
static int prefill(judge_classifier *cl, int k, judge_item_detail *d, char *err, size_t errlen) {
    for (int j = 0; j < k; j++) {
        const int32_t *ids = cl->seq[j].ids.ids;
        int n = (int)cl->seq[j].ids.n, past = eng_seq_len(cl->c, j);
        int reuse = cl->o.no_prefix_cache ? 0 : judge_common_prefix(eng_seq_tokens(cl->c, j), past, ids, n);
        if (reuse > n - 1) reuse = n - 1;
        if (eng_seq_truncate(cl->c, j, reuse)) {
            snprintf(err, errlen, "KV cache: cannot keep %d tokens of %d", reuse, past);
            return -1;
        }
        cl->in[j] = (eng_input){.seq = j, .tokens = ids + reuse, .n = n - reuse, .want = ENG_LOGITS};
        d[j].reused = reuse;
        d[j].evaluated = n - reuse;
        cl->stats.reused_tokens += reuse;
        cl->stats.eval_tokens += n - reuse;
    }
    double t0 = util_now_s();
    if (eng_step(cl->c, cl->in, k, cl->out, err, errlen)) return -1;
    cl->stats.prefill_s += util_now_s() - t0;
    for (int j = 0; j < k; j++) {
        cl->seq[j].first = cl->out[j].argmax;
        cl->seq[j].logits = cl->out[j].logits;
    }
    return 0;
}

/* Appends one token to each active sequence (of 0..k-1) in one engine step
 * and stores the greedy next token (the device's argmax). */
static int decode_step(judge_classifier *cl, int k, char *err, size_t errlen) {
    int n = 0;
    for (int j = 0; j < k; j++) {
        seq_state *q = &cl->seq[j];
        if (q->active) cl->in[n++] = (eng_input){.seq = j, .tokens = &q->gen[q->n_gen - 1], .n = 1};
    }
    if (n == 0) return 0;
    cl->stats.decode_steps += n;
    cl->stats.decode_passes++;
    double t0 = util_now_s();
    if (eng_step(cl->c, cl->in, n, cl->out, err, errlen)) return -1;
    cl->stats.decode_s += util_now_s() - t0;
    for (int i = 0; i < n; i++) {
        seq_state *q = &cl->seq[cl->in[i].seq];
        q->gen[q->n_gen] = cl->out[i].argmax;
    }
    return 0;
}

/* Greedy decoding of sequences 0..k-1 after their prefill, in lockstep;
 * each stops at a stop id, after max_new tokens or with a full context. */
static int generate(judge_classifier *cl, int k, judge_item_detail *d, char *err, size_t errlen) {
    const phi3_config *cfg = eng_model_config(cl->m);
    if (cl->ans.n_shared > 0) {
        /* The scored position came after teacher-forced answer tokens: the
         * answer itself starts right after the prompt, so its last token is
         * fed again (as the "generated" token of step 0). */
        for (int j = 0; j < k; j++) {
            seq_state *q = &cl->seq[j];
            if (eng_seq_truncate(cl->c, j, q->n_prompt - 1)) {
                snprintf(err, errlen, "KV cache: cannot keep %d tokens", q->n_prompt - 1);
                return -1;
            }
            q->gen[0] = q->ids.ids[q->n_prompt - 1];
            q->n_gen = 1;
            q->active = 1;
        }
        if (decode_step(cl, k, err, errlen)) return -1;
        for (int j = 0; j < k; j++) {
            seq_state *q = &cl->seq[j];
            q->gen[0] = q->gen[1];
        }
    } else {
        for (int j = 0; j < k; j++) cl->seq[j].gen[0] = cl->seq[j].first;
    }
    for (int j = 0; j < k; j++) {
        seq_state *q = &cl->seq[j];
        q->n_gen = 1;
        d[j].first_token = q->gen[0];
    }
    for (;;) {
        int any = 0;
        for (int j = 0; j < k; j++) {
            seq_state *q = &cl->seq[j];
            q->active = !is_stop(cfg, q->gen[q->n_gen - 1]) && q->n_gen < cl->max_new &&
                        eng_seq_len(cl->c, j) < cl->n_ctx;
            any |= q->active;
        }
        if (!any) break;
        if (decode_step(cl, k, err, errlen)) return -1;
        for (int j = 0; j < k; j++)
            if (cl->seq[j].active) cl->seq[j].n_gen++;
    }
    for (int j = 0; j < k; j++) d[j].n_generated = cl->seq[j].n_gen;
    return 0;
}

char *judge_reason_decode(const tok_tokenizer *t, const phi3_config *cfg, const int32_t *gen, int k, char *err,
                          size_t errlen) {
    if (k > 0 && is_stop(cfg, gen[k - 1])) k--;
    /* The model's vocabulary is padded beyond the tokenizer's (Phi-3: 32064
     * rows, 32011 ids): such ids have no text, and are skipped as Hugging
     * Face's decode skips ids it does not know. */
    int32_t *ids = malloc(sizeof *ids * (size_t)(k > 0 ? k : 1));
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int n = 0, n_vocab = tok_n_vocab(t);
    for (int i = 0; i < k; i++)
        if (gen[i] >= 0 && gen[i] < n_vocab) ids[n++] = gen[i];
    char *s = NULL;
    size_t len;
    int rc = tok_decode(t, ids, (size_t)n, TOK_DECODE_SKIP_SPECIAL, &s, &len, err, errlen);
    free(ids);
    return rc ? NULL : s;
}

/* The reason text of sequence j's generated tokens (a final stop token left out). */
static char *reason_text(judge_classifier *cl, int j, char *err, size_t errlen) {
    return judge_reason_decode(cl->tok, eng_model_config(cl->m), cl->seq[j].gen, cl->seq[j].n_gen, err, errlen);
}

/* Classifies k <= n_seq texts in one batch (item j in sequence j). A text
 * that cannot be encoded or does not fit fails before the engine runs, with
 * its index in *bad (else -1). out[j] and d[j] are filled as in
 * judge_classifier_run_one; ms is the batch's wall time / k. */
static int classify_chunk(judge_classifier *cl, const char *const *texts, const size_t *lens, int k,
                          judge_result *out, judge_item_detail *d, int *bad, char *err, size_t errlen) {
    double t0 = util_now_s();
    *bad = -1;
    for (int j = 0; j < k; j++) {
        d[j] = (judge_item_detail){.argmax_class = -1, .first_token = -1};
        out[j].reason = NULL;
        out[j].error = NULL;
        out[j].truncated = 0;
        out[j].p_toxic = NAN;
        out[j].label = JUDGE_UNPARSABLE;
        if (encode_item(cl, j, texts[j], lens[j], err, errlen)) {
            *bad = j;
            return -1;
        }
        out[j].prompt_tokens = cl->seq[j].n_prompt;
    }
    if (prefill(cl, k, d, err, errlen)) goto fail;
    for (int j = 0; j < k; j++) {
        const float *logits = cl->seq[j].logits;
        out[j].p_toxic = judge_p_toxic(logits, cl->n_vocab, &cl->ans);
        d[j].argmax_class = judge_answer_argmax_class(logits, cl->n_vocab, &cl->ans);
        double t = cl->o.threshold > 0 ? cl->o.threshold : JUDGE_DEFAULT_THRESHOLD;
        if (!cl->o.reason)
            out[j].label = isnan(out[j].p_toxic) ? JUDGE_UNPARSABLE
                           : out[j].p_toxic >= t ? JUDGE_TOXIC
                                                 : JUDGE_NON_TOXIC;
    }
    if (cl->o.reason) {
        if (generate(cl, k, d, err, errlen)) goto fail;
        for (int j = 0; j < k; j++) {
            char *reason = reason_text(cl, j, err, errlen);
            if (!reason) {
                for (int i = 0; i < j; i++) {
                    free((char *)out[i].reason);
                    out[i].reason = NULL;
                }
                goto fail;
            }
            out[j].reason = reason;
            out[j].label = judge_label_snap(reason, strlen(reason), cl->prompt->snap);
        }
    }
    double ms = (util_now_s() - t0) * 1000.0 / k;
    for (int j = 0; j < k; j++) {
        out[j].ms = ms;
        cl->stats.items++;
        cl->stats.prompt_tokens += cl->seq[j].n_prompt;
    }
    return 0;
fail:
    drop_cache(cl);
    return -1;
}

int judge_classifier_run_one(judge_classifier *cl, const char *text, size_t len, judge_result *out,
                             judge_item_detail *d, char *err, size_t errlen) {
    judge_item_detail local;
    int bad;
    const char *texts[1] = {text ? text : ""};
    return classify_chunk(cl, texts, &len, 1, out, d ? d : &local, &bad, err, errlen);
}

const char *judge_too_long_name(judge_too_long t) {
    return t == JUDGE_TOO_LONG_ERROR ? "error" : t == JUDGE_TOO_LONG_TRUNCATE ? "truncate" : "skip";
}

int judge_too_long_parse(const char *name, judge_too_long *out) {
    for (int t = JUDGE_TOO_LONG_SKIP; t <= JUDGE_TOO_LONG_TRUNCATE; t++)
        if (name && !strcmp(name, judge_too_long_name((judge_too_long)t))) {
            *out = (judge_too_long)t;
            return 0;
        }
    return -1;
}

/* Tokens the classifier evaluates for text[0, len): the prompt and the
 * shared answer tokens; -1 with err when it cannot be encoded. */
static int prompt_tokens(judge_classifier *cl, const char *text, size_t len, char *err, size_t errlen) {
    seq_state *q = &cl->seq[0];
    q->ids.n = 0;
    if (judge_classifier_encode(cl, text, len, &q->ids, err, errlen)) return -1;
    return (int)q->ids.n + cl->ans.n_shared;
}

/* Applies the too-long policy to one text before a batch is formed: 0 when
 * its prompt fits (with truncate, *len may have been cut so that it does),
 * 1 when it does not (err says why), -1 when it cannot be encoded. */
static int fit_text(judge_classifier *cl, const char *text, size_t *len, char *err, size_t errlen) {
    int n = prompt_tokens(cl, text, *len, err, errlen);
    if (n < 0) return -1;
    if (n <= cl->n_ctx) return 0;
    too_long_message(cl, n, err, errlen);
    if (cl->o.too_long != JUDGE_TOO_LONG_TRUNCATE) return 1;
    /* the longest fitting prefix, by bisection over character boundaries:
     * lo always fits (once checked), hi never does */
    size_t lo = 0, hi = *len;
    char why[256];
    int n0 = prompt_tokens(cl, text, 0, why, sizeof why);
    if (n0 < 0 || n0 > cl->n_ctx) {
        size_t k = strlen(err);
        snprintf(err + k, errlen > k ? errlen - k : 0, ", even with the text cut to nothing (%d tokens)", n0);
        return 1;
    }
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        while (mid > lo && ((unsigned char)text[mid] & 0xC0) == 0x80) mid--; /* not inside a character */
        if (mid == lo) break;
        int k = prompt_tokens(cl, text, mid, why, sizeof why);
        if (k < 0) return -1;
        if (k <= cl->n_ctx) lo = mid;
        else hi = mid;
    }
    *len = lo;
    return 0;
}

int judge_classify_batch(void *user, const judge_item *const *items, int n, judge_result *out, char *err,
                         size_t errlen) {
    judge_classifier *cl = user;
    const char *texts[64];
    size_t lens[64];
    int where[64];
    judge_result got[64];
    judge_item_detail d[64];
    int step = cl->n_seq < 64 ? cl->n_seq : 64;
    char e[1024];
    for (int i = 0; i < n;) {
        int k = 0, bad;
        /* the next step items whose prompts fit (or were cut to fit) */
        for (; i < n && k < step; i++) {
            size_t len = items[i]->text_len;
            int fit = fit_text(cl, items[i]->text, &len, e, sizeof e);
            if (fit < 0 || (fit == 1 && cl->o.too_long == JUDGE_TOO_LONG_ERROR)) {
                snprintf(err, errlen, "item %s (line %d): %s", items[i]->id, items[i]->line, e);
                goto fail;
            }
            if (fit == 1) { /* skipped: an error result */
                out[i].label = JUDGE_ERROR;
                out[i].p_toxic = NAN;
                out[i].reason = NULL;
                out[i].prompt_tokens = 0;
                out[i].ms = 0;
                if (!(out[i].error = strdup(e))) {
                    snprintf(err, errlen, "out of memory");
                    goto fail;
                }
                continue;
            }
            out[i].truncated = len < items[i]->text_len;
            texts[k] = items[i]->text;
            lens[k] = len;
            where[k++] = i;
        }
        if (k == 0) continue;
        memset(got, 0, sizeof got[0] * (size_t)k);
        if (classify_chunk(cl, texts, lens, k, got, d, &bad, e, sizeof e)) {
            if (bad >= 0) snprintf(err, errlen, "item %s (line %d): %s", items[where[bad]]->id, items[where[bad]]->line, e);
            else snprintf(err, errlen, "items %s..%s: %s", items[where[0]]->id, items[where[k - 1]]->id, e);
            goto fail;
        }
        for (int j = 0; j < k; j++) { /* the result, with what judge_run and the policy set */
            judge_result *o = &out[where[j]];
            int t = o->truncated;
            const char *id = o->id;
            char sha[65];
            memcpy(sha, o->text_sha256, sizeof sha);
            *o = got[j];
            o->truncated = t;
            o->id = id;
            memcpy(o->text_sha256, sha, sizeof sha);
        }
    }
    return 0;
fail:
    for (int j = 0; j < n; j++) {
        free((char *)out[j].reason);
        free((char *)out[j].error);
        out[j].reason = NULL;
        out[j].error = NULL;
    }
    return -1;
}
