/* eng_step (engine.h): inputs packed into passes, each pass recorded and
 * run, and only the outputs asked for read back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "kernels/shaders/common.h"

#define MAX_INPUTS 64

/* params[slot]: tokens n_past .. n_past + n - 1 of sequence seq;
 * params[n_seq + seq]: its last token alone (the last layer of a pass that
 * needs only the last logits). */
static void set_params(eng_ctx *c, int slot, int seq, int n_tokens) {
    struct step_params *p = (struct step_params *)vkr_buffer_map(c->params);
    p[slot] = (struct step_params){.n_past = (uint32_t)c->n_past[seq], .n_tokens = (uint32_t)n_tokens,
                                   .kv_base = (uint32_t)(seq * c->n_ctx)};
    p[c->n_seq + seq] = (struct step_params){.n_past = (uint32_t)(c->n_past[seq] + n_tokens - 1), .n_tokens = 1,
                                             .kv_base = (uint32_t)(seq * c->n_ctx)};
}

static int check_input(const eng_ctx *c, const eng_input *in, int i, char *err, size_t errlen) {
    if (in->seq < 0 || in->seq >= c->n_seq)
        return snprintf(err, errlen, "input %d: sequence %d does not exist (the context has %d)", i, in->seq,
                        c->n_seq), -1;
    if (in->n <= 0 || !in->tokens) return snprintf(err, errlen, "input %d: no tokens", i), -1;
    if (c->n_past[in->seq] + in->n > c->n_ctx)
        return snprintf(err, errlen, "context full: %d tokens in the cache + %d new > --ctx %d", c->n_past[in->seq],
                        in->n, c->n_ctx), -1;
    if (in->top_k < 0 || in->top_k > ENG_MAX_TOP)
        return snprintf(err, errlen, "input %d: top_k %d (0 .. %d)", i, in->top_k, ENG_MAX_TOP), -1;
    if ((in->want & ENG_ALL_LOGITS) && (!c->all_logits || in->n > c->n_batch))
        return snprintf(err, errlen, "input %d: every position's logits need a plan with all_logits and at most "
                        "n_batch %d tokens (got %d)", i, c->n_batch, in->n), -1;
    for (int k = 0; k < in->n; k++)
        if (in->tokens[k] < 0 || in->tokens[k] >= c->m->cfg.vocab)
            return snprintf(err, errlen, "token id %d at position %d is outside the vocabulary [0, %d)", in->tokens[k],
                            k, c->m->cfg.vocab), -1;
    return 0;
}

/* The tokens enter the sequence's history (and its length grows). memmove:
 * tokens may be the sequence's own history (LongRoPE). */
static void append(eng_ctx *c, int seq, const int32_t *tokens, int n) {
    memmove(c->history + (size_t)seq * c->n_ctx + c->n_past[seq], tokens, (size_t)n * sizeof(int32_t));
    c->n_past[seq] += n;
}

/* One pass over the segments (tokens[i] are segment i's; rows row0..). all:
 * every row's logits (one segment). */
static int run_pass(eng_ctx *c, const eng_segment *seg, const int32_t *const *tokens, int n_seg, int all, char *err,
                    size_t errlen) {
    uint32_t *ids = vkr_buffer_map(c->pre.ids);
    for (int i = 0; i < n_seg; i++) {
        memcpy(ids + seg[i].row0, tokens[i], (size_t)seg[i].n * 4);
        set_params(c, seg[i].seq, seg[i].seq, seg[i].n);
    }
    if (vkr_cmd_begin(c->pass_cmd)) return vkr_ctx_error_to(c->m->vk, err, errlen);
    eng_forward_record(c, c->pass_cmd, &c->pre, seg, n_seg, all);
    if (vkr_cmd_end(c->pass_cmd) || vkr_cmd_run(c->pass_cmd)) return vkr_ctx_error_to(c->m->vk, err, errlen);
    c->last_cmd = c->pass_cmd;
    for (int i = 0; i < n_seg; i++) append(c, seg[i].seq, tokens[i], seg[i].n);
    return 0;
}

/* Tokens of one sequence in passes of at most n_batch, outputs unread. */
static int run_chunks(eng_ctx *c, int seq, const int32_t *tokens, int n, char *err, size_t errlen) {
    for (int done = 0; done < n;) {
        int k = n - done < c->n_batch ? n - done : c->n_batch;
        const int32_t *t = tokens + done;
        if (run_pass(c, &(eng_segment){.seq = seq, .row0 = 0, .n = k}, &t, 1, 0, err, errlen)) return -1;
        done += k;
    }
    return 0;
}

/* LongRoPE: once a sequence grows past original_max_position_embeddings
 * every position uses the long factors (as Hugging Face computes a sequence
 * of that length), so the cached keys, rotated with the short ones, are
 * recomputed: the table is switched and the history evaluated again. The
 * table is shared, so this works for single-sequence contexts only. */
static int rope_switch(eng_ctx *c, int seq, int n_new, char *err, size_t errlen) {
    const phi3_config *cfg = &c->m->cfg;
    if (cfg->rope_scaling != PHI3_ROPE_LONGROPE || c->rope_long || c->n_past[seq] + n_new <= cfg->orig_max_pos)
        return 0;
    if (c->n_seq > 1)
        return snprintf(err, errlen, "LongRoPE: a sequence crosses original_max_position_embeddings (%d) in a "
                        "%d-sequence context; use one sequence for long inputs", cfg->orig_max_pos, c->n_seq), -1;
    if (eng_rope_upload(c, 1, err, errlen)) return -1;
    int old = c->n_past[0];
    c->n_past[0] = 0;
    return run_chunks(c, 0, c->history, old, err, errlen);
}

/* Log-probabilities of the k largest logits, largest first. */
static void top_k(const float *logits, int vocab, int k, eng_output *out) {
    double mx = -INFINITY, sum = 0;
    for (int v = 0; v < vocab; v++)
        if (logits[v] > mx) mx = logits[v];
    for (int v = 0; v < vocab; v++) sum += exp((double)logits[v] - mx);
    double lse = mx + log(sum);
    out->n_top = 0;
    for (int v = 0; v < vocab; v++) {
        float x = logits[v];
        if (isnan(x) || (out->n_top == k && x <= out->top[k - 1].logprob)) continue;
        int j = out->n_top < k ? out->n_top++ : k - 1;
        while (j > 0 && out->top[j - 1].logprob < x) { /* ties keep the lower id first */
            out->top[j] = out->top[j - 1];
            j--;
        }
        out->top[j] = (eng_top){.id = v, .logprob = x};
    }
    for (int i = 0; i < out->n_top; i++) out->top[i].logprob = (float)(out->top[i].logprob - lse);
}

static int32_t host_argmax(const float *v, int n) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[a] || (isnan(v[a]) && !isnan(v[i]))) a = i;
    return a;
}

/* The outputs of input in after the pass that held its last token, whose
 * logits are row `row` of the device logits (every row from 0 with all). */
static int read_output(eng_ctx *c, const eng_input *in, int row, eng_output *out, char *err, size_t errlen) {
    int vocab = c->m->cfg.vocab;
    memset(out, 0, sizeof *out);
    if (in->want & ENG_ALL_LOGITS) {
        if (vkr_buffer_read(c->m->vk, c->logits, 0, c->all_logits_host, (uint64_t)in->n * vocab * 4))
            return vkr_ctx_error_to(c->m->vk, err, errlen);
        out->logits = c->all_logits_host;
        const float *last = c->all_logits_host + (size_t)(in->n - 1) * vocab;
        out->argmax = host_argmax(last, vocab);
        if (in->top_k) top_k(last, vocab, in->top_k, out);
        return 0;
    }
    out->argmax = (int32_t)((const uint32_t *)vkr_buffer_map(c->next_id))[row];
    if (!(in->want & ENG_LOGITS) && !in->top_k) return 0;
    float *dst = c->seq_logits + (size_t)in->seq * vocab;
    if (vkr_buffer_read(c->m->vk, c->logits, (uint64_t)row * vocab * 4, dst, (uint64_t)vocab * 4))
        return vkr_ctx_error_to(c->m->vk, err, errlen);
    if (in->want & ENG_LOGITS) out->logits = dst;
    if (in->top_k) top_k(dst, vocab, in->top_k, out);
    return 0;
}

/* One one-token input: the recorded step, pointed at the sequence. */
static int single_token(eng_ctx *c, const eng_input *in, eng_output *out, char *err, size_t errlen) {
    *(uint32_t *)vkr_buffer_map(c->dec.ids) = (uint32_t)in->tokens[0];
    set_params(c, ENG_STEP_SLOT(c), in->seq, 1);
    if (vkr_cmd_run(c->step_cmd)) return vkr_ctx_error_to(c->m->vk, err, errlen);
    c->last_cmd = c->step_cmd;
    append(c, in->seq, in->tokens, 1);
    return read_output(c, in, 0, out, err, errlen);
}

int eng_step(eng_ctx *c, const eng_input *in, int n_in, eng_output *out, char *err, size_t errlen) {
    if (n_in < 1 || n_in > MAX_INPUTS || n_in > c->n_seq)
        return snprintf(err, errlen, "%d inputs in one step: 1 .. %d (the context's sequences, and %d)", n_in,
                        c->n_seq < MAX_INPUTS ? c->n_seq : MAX_INPUTS, MAX_INPUTS), -1;
    for (int i = 0; i < n_in; i++) {
        if (check_input(c, &in[i], i, err, errlen)) return -1;
        for (int j = 0; j < i; j++)
            if (in[j].seq == in[i].seq)
                return snprintf(err, errlen, "sequence %d appears twice in one step", in[i].seq), -1;
        if ((in[i].want & ENG_ALL_LOGITS) && n_in > 1)
            return snprintf(err, errlen, "every position's logits: one input per step"), -1;
    }
    for (int i = 0; i < n_in; i++)
        if (rope_switch(c, in[i].seq, in[i].n, err, errlen)) return -1;
    if (n_in == 1 && in[0].n == 1 && !(in[0].want & ENG_ALL_LOGITS)) return single_token(c, &in[0], out, err, errlen);

    /* An input longer than a pass puts all but its last n_batch tokens
     * through passes of its own first; then whole inputs share passes. */
    eng_segment seg[MAX_INPUTS];
    const int32_t *toks[MAX_INPUTS];
    int who[MAX_INPUTS], n_seg = 0, rows = 0;
    for (int i = 0; i <= n_in; i++) {
        int k = 0, head = 0;
        if (i < n_in) {
            head = in[i].n > c->n_batch ? in[i].n - c->n_batch : 0;
            if (head && run_chunks(c, in[i].seq, in[i].tokens, head, err, errlen)) return -1;
            k = in[i].n - head;
        }
        if (n_seg && (i == n_in || rows + k > c->n_batch)) { /* run what is packed, read its outputs */
            int all = (in[who[0]].want & ENG_ALL_LOGITS) != 0;
            if (run_pass(c, seg, toks, n_seg, all, err, errlen)) return -1;
            for (int s = 0; s < n_seg; s++)
                if (read_output(c, &in[who[s]], s, &out[who[s]], err, errlen)) return -1;
            n_seg = rows = 0;
        }
        if (i == n_in) break;
        seg[n_seg] = (eng_segment){.seq = in[i].seq, .row0 = rows, .n = k};
        toks[n_seg] = in[i].tokens + head;
        who[n_seg++] = i;
        rows += k;
    }
    return 0;
}
