/* eng_ctx: one sequence's KV cache, scratch and command buffers; eval and
 * decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "kernels/shaders/common.h"

#define MIB (1024.0 * 1024.0)

static vkr_buffer *make(eng_ctx *c, const char *name, uint64_t bytes, vkr_buffer_kind kind, int *fail) {
    if (*fail) return NULL;
    vkr_buffer *b = vkr_buffer_create(c->m->vk, name, bytes, kind);
    if (!b) *fail = 1;
    else c->device_bytes += bytes;
    return b;
}

static void scratch_free(vkr_ctx *vk, eng_scratch *s) {
    vkr_buffer *all[] = {s->ids, s->x, s->xn, s->qkv, s->q, s->attn, s->gate_up, s->ff, s->att_scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(vk, all[i]);
    memset(s, 0, sizeof *s);
}

static int scratch_init(eng_ctx *c, eng_scratch *s, int cap, int n_split) {
    const phi3_config *cfg = &c->m->cfg;
    uint64_t T = (uint64_t)cap, H = (uint64_t)cfg->hidden, F = (uint64_t)cfg->intermediate;
    uint64_t QD = (uint64_t)cfg->n_heads * cfg->head_dim, QKV = (uint64_t)(cfg->n_heads + 2 * cfg->n_kv_heads) * cfg->head_dim;
    int fail = 0;
    s->cap = cap;
    s->n_split = n_split;
    s->ids = make(c, "ids", T * 4, VKR_BUF_HOST, &fail);
    s->x = make(c, "x", T * H * 4, VKR_BUF_DEVICE, &fail);
    s->xn = make(c, "xn", T * kern_ld((uint32_t)H) * 2, VKR_BUF_DEVICE, &fail);
    s->qkv = make(c, "qkv", T * QKV * 4, VKR_BUF_DEVICE, &fail);
    s->q = make(c, "q", T * QD * 4, VKR_BUF_DEVICE, &fail);
    s->attn = make(c, "attn", T * kern_ld((uint32_t)QD) * 2, VKR_BUF_DEVICE, &fail);
    s->gate_up = make(c, "gate_up", T * 2 * F * 4, VKR_BUF_DEVICE, &fail);
    s->ff = make(c, "ff", T * kern_ld((uint32_t)F) * 2, VKR_BUF_DEVICE, &fail);
    uint64_t as = kern_attention_scratch_bytes((uint32_t)cfg->n_heads, (uint32_t)cfg->head_dim, (uint32_t)cap,
                                              (uint32_t)n_split);
    s->att_scratch = make(c, "attention.scratch", as ? as : 16, VKR_BUF_DEVICE, &fail);
    return fail ? -1 : 0;
}

int eng_rope_upload(eng_ctx *c, int use_long, char *err, size_t errlen) {
    const phi3_config *cfg = &c->m->cfg;
    uint64_t n = (uint64_t)c->n_ctx * cfg->head_dim;
    float *tab = malloc(n * sizeof *tab);
    if (!tab) {
        snprintf(err, errlen, "out of host memory for the RoPE table");
        return -1;
    }
    const float *div = NULL;
    double mscale = 1.0;
    if (cfg->rope_scaling == PHI3_ROPE_LONGROPE) {
        div = use_long ? cfg->long_factor : cfg->short_factor;
        mscale = cfg->rope_attn_factor;
    }
    kern_rope_table(tab, (uint32_t)c->n_ctx, (uint32_t)cfg->head_dim, cfg->rope_theta, div, mscale);
    int rc = vkr_buffer_write(c->m->vk, c->cos_sin, 0, tab, n * sizeof *tab);
    free(tab);
    if (rc) vkr_ctx_error_to(c->m->vk, err, errlen);
    c->rope_long = use_long;
    return rc;
}

static int record_decode(eng_ctx *c) {
    if (vkr_cmd_begin(c->decode_cmd)) return -1;
    eng_forward_record(c, c->decode_cmd, &c->dec, &(eng_segment){.seq = 0, .row0 = 0, .n = 1}, 1, 0);
    return vkr_cmd_end(c->decode_cmd);
}

eng_ctx *eng_ctx_create(eng_model *m, const eng_ctx_opts *opts, char *err, size_t errlen) {
    eng_ctx_opts o = opts ? *opts : (eng_ctx_opts){0};
    const phi3_config *cfg = &m->cfg;
    eng_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    c->m = m;
    c->n_ctx = o.n_ctx > 0 ? o.n_ctx : (cfg->max_pos < 4096 ? cfg->max_pos : 4096);
    c->n_batch = o.n_batch > 0 ? o.n_batch : 512;
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->all_logits = o.all_logits;
    c->n_seq = o.n_seq > 0 ? o.n_seq : 1;
    uint64_t kv_row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2;
    const vkr_device_info *dev = vkr_ctx_device(m->vk);
    if (c->n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "--ctx %d exceeds the model's context of %d tokens", c->n_ctx, cfg->max_pos);
        goto fail_early;
    }
    if ((uint64_t)c->n_seq * c->n_ctx * kv_row > dev->max_storage_buffer_range) {
        snprintf(err, errlen, "%d sequence%s x --ctx %d need a %.0f MiB KV cache per layer; %s allows %.0f MiB per "
                 "buffer: use at most %llu tokens of context in all", c->n_seq, c->n_seq > 1 ? "s" : "", c->n_ctx,
                 (double)c->n_seq * c->n_ctx * kv_row / MIB, dev->name, dev->max_storage_buffer_range / MIB,
                 (unsigned long long)(dev->max_storage_buffer_range / kv_row));
        goto fail_early;
    }
    c->logit_rows = c->all_logits && c->n_batch > c->n_seq ? c->n_batch : c->n_seq;
    c->k_cache = calloc((size_t)cfg->n_layers, sizeof *c->k_cache);
    c->v_cache = calloc((size_t)cfg->n_layers, sizeof *c->v_cache);
    c->host_logits = malloc((size_t)c->logit_rows * cfg->vocab * sizeof(float));
    c->history = malloc((size_t)c->n_seq * c->n_ctx * sizeof *c->history);
    c->seq_logits = malloc((size_t)c->n_seq * cfg->vocab * sizeof(float));
    c->n_past = calloc((size_t)c->n_seq, sizeof *c->n_past);
    if (!c->k_cache || !c->v_cache || !c->host_logits || !c->history || !c->seq_logits || !c->n_past) {
        snprintf(err, errlen, "out of host memory");
        goto fail;
    }
    int fail = 0;
    char name[32];
    for (int l = 0; l < cfg->n_layers; l++) {
        snprintf(name, sizeof name, "k_cache.%d", l);
        c->k_cache[l] = make(c, name, (uint64_t)c->n_seq * c->n_ctx * kv_row, VKR_BUF_DEVICE, &fail);
        snprintf(name, sizeof name, "v_cache.%d", l);
        c->v_cache[l] = make(c, name, (uint64_t)c->n_seq * c->n_ctx * kv_row, VKR_BUF_DEVICE, &fail);
    }
    c->cos_sin = make(c, "rope.cos_sin", (uint64_t)c->n_ctx * cfg->head_dim * 4, VKR_BUF_DEVICE, &fail);
    c->params = make(c, "params", 2ull * c->n_seq * sizeof(struct step_params), VKR_BUF_HOST, &fail);
    c->last_x = make(c, "last_x", (uint64_t)c->n_seq * cfg->hidden * 4, VKR_BUF_DEVICE, &fail);
    c->last_q = make(c, "last_q", (uint64_t)c->n_seq * cfg->n_heads * cfg->head_dim * 4, VKR_BUF_DEVICE, &fail);
    c->logits = make(c, "logits", (uint64_t)c->logit_rows * cfg->vocab * 4, VKR_BUF_DEVICE, &fail);
    c->next_id = make(c, "next_id", (uint64_t)c->n_seq * 4, VKR_BUF_HOST, &fail);
    /* Decode attention splits the keys so a long context still spreads over
     * a GPU: about one range per 256 cached tokens, at most 16. CPU drivers
     * already keep every thread busy with the heads, and splits cost time there. */
    uint32_t per = vkr_ctx_profile(m->vk)->attn_split_tokens;
    int split = per ? c->n_ctx / (int)per : 1;
    split = split < 1 ? 1 : split > 16 ? 16 : split;
    if (fail || scratch_init(c, &c->pre, c->n_batch, 1) || scratch_init(c, &c->dec, 1, split)) {
        vkr_ctx_error_to(m->vk, err, errlen);
        goto fail;
    }
    c->prefill_cmd = vkr_cmd_create(m->vk, "prefill");
    c->decode_cmd = vkr_cmd_create(m->vk, "decode");
    if (!c->prefill_cmd || !c->decode_cmd || record_decode(c)) {
        vkr_ctx_error_to(m->vk, err, errlen);
        goto fail;
    }
    if (eng_rope_upload(c, 0, err, errlen)) goto fail;
    if (m->verbose)
        fprintf(stderr, "phi3vk: context %d x %d tokens: KV cache %.1f MiB, scratch %.1f MiB\n", c->n_seq, c->n_ctx,
                2.0 * cfg->n_layers * c->n_seq * c->n_ctx * kv_row / MIB,
                (c->device_bytes - 2.0 * cfg->n_layers * c->n_seq * c->n_ctx * kv_row) / MIB);
    return c;
fail:
    eng_ctx_destroy(c);
    return NULL;
fail_early:
    free(c);
    return NULL;
}

void eng_ctx_destroy(eng_ctx *c) {
    if (!c) return;
    vkr_ctx *vk = c->m->vk;
    vkr_cmd_destroy(vk, c->prefill_cmd);
    vkr_cmd_destroy(vk, c->decode_cmd);
    scratch_free(vk, &c->pre);
    scratch_free(vk, &c->dec);
    for (int l = 0; c->k_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->k_cache[l]);
    for (int l = 0; c->v_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->v_cache[l]);
    vkr_buffer *all[] = {c->cos_sin, c->params, c->last_x, c->last_q, c->logits, c->next_id};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(vk, all[i]);
    free(c->k_cache);
    free(c->v_cache);
    free(c->host_logits);
    free(c->history);
    free(c->seq_logits);
    free(c->n_past);
    free(c);
}


/* params[seq]: the step's tokens; params[n_seq + seq]: its last token alone
 * (the last layer of a pass that needs only the last logits). */
static void set_params(eng_ctx *c, int seq, int n_tokens) {
    struct step_params *p = (struct step_params *)vkr_buffer_map(c->params);
    p[seq] = (struct step_params){.n_past = (uint32_t)c->n_past[seq], .n_tokens = (uint32_t)n_tokens,
                                  .kv_base = (uint32_t)(seq * c->n_ctx)};
    p[c->n_seq + seq] = (struct step_params){.n_past = (uint32_t)(c->n_past[seq] + n_tokens - 1), .n_tokens = 1,
                                             .kv_base = (uint32_t)(seq * c->n_ctx)};
}

static int check_seq(const eng_ctx *c, int seq, const int32_t *tokens, int n, char *err, size_t errlen) {
    if (seq < 0 || seq >= c->n_seq) {
        snprintf(err, errlen, "sequence %d does not exist (the context has %d)", seq, c->n_seq);
        return -1;
    }
    if (n <= 0) {
        snprintf(err, errlen, "no tokens to evaluate");
        return -1;
    }
    if (c->n_past[seq] + n > c->n_ctx) {
        snprintf(err, errlen, "context full: %d tokens in the cache + %d new > --ctx %d", c->n_past[seq], n, c->n_ctx);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->cfg.vocab) {
            snprintf(err, errlen, "token id %d at position %d is outside the vocabulary [0, %d)", tokens[i], i,
                     c->m->cfg.vocab);
            return -1;
        }
    return 0;
}

/* One pass over the segments' tokens (at most n_batch in all; tokens[i] are
 * segment i's). Reads back the logits: every row into host_logits + row0
 * rows (all_logits, one segment), else each segment's last row into
 * seq_logits[seq] (and host_logits row 0 for a single segment). */
static int run_pass(eng_ctx *c, const eng_segment *seg, const int32_t *const *tokens, int n_seg, int host_row0,
                    char *err, size_t errlen) {
    vkr_ctx *vk = c->m->vk;
    int vocab = c->m->cfg.vocab, all = c->all_logits && n_seg == 1;
    uint32_t *ids = vkr_buffer_map(c->pre.ids);
    for (int i = 0; i < n_seg; i++) {
        memcpy(ids + seg[i].row0, tokens[i], (size_t)seg[i].n * 4);
        set_params(c, seg[i].seq, seg[i].n);
    }
    if (vkr_cmd_begin(c->prefill_cmd)) goto fail;
    eng_forward_record(c, c->prefill_cmd, &c->pre, seg, n_seg, all);
    if (vkr_cmd_end(c->prefill_cmd) || vkr_cmd_run(c->prefill_cmd)) goto fail;
    c->last_cmd = c->prefill_cmd;
    if (all) {
        if (vkr_buffer_read(vk, c->logits, 0, c->host_logits + (size_t)host_row0 * vocab, (uint64_t)seg[0].n * vocab * 4))
            goto fail;
    } else {
        for (int i = 0; i < n_seg; i++)
            if (vkr_buffer_read(vk, c->logits, (uint64_t)i * vocab * 4, c->seq_logits + (size_t)seg[i].seq * vocab,
                                (uint64_t)vocab * 4))
                goto fail;
        if (n_seg == 1) memcpy(c->host_logits, c->seq_logits + (size_t)seg[0].seq * vocab, (size_t)vocab * 4);
    }
    for (int i = 0; i < n_seg; i++) {
        int s = seg[i].seq;
        /* memmove: tokens may be this sequence's own history (LongRoPE) */
        memmove(c->history + (size_t)s * c->n_ctx + c->n_past[s], tokens[i], (size_t)seg[i].n * sizeof(int32_t));
        c->n_past[s] += seg[i].n;
    }
    return 0;
fail:
    vkr_ctx_error_to(vk, err, errlen);
    return -1;
}

/* Appends n tokens to one sequence in passes of at most n_batch. */
static int eval_chunks(eng_ctx *c, int seq, const int32_t *tokens, int n, char *err, size_t errlen) {
    for (int done = 0; done < n;) {
        int k = n - done < c->n_batch ? n - done : c->n_batch;
        eng_segment sg = {.seq = seq, .row0 = 0, .n = k};
        const int32_t *t = tokens + done;
        if (run_pass(c, &sg, &t, 1, done, err, errlen)) return -1;
        done += k;
    }
    return 0;
}

/* Appends one token to sequence 0 with the pre-recorded decode step. */
static int decode_step(eng_ctx *c, int32_t token, char *err, size_t errlen) {
    *(uint32_t *)vkr_buffer_map(c->dec.ids) = (uint32_t)token;
    set_params(c, 0, 1);
    if (vkr_cmd_run(c->decode_cmd)) {
        vkr_ctx_error_to(c->m->vk, err, errlen);
        return -1;
    }
    c->last_cmd = c->decode_cmd;
    c->history[c->n_past[0]++] = token;
    return 0;
}

/* LongRoPE: once the sequence grows past original_max_position_embeddings
 * every position uses the long factors (as Hugging Face computes a sequence
 * of that length), so the cached keys, rotated with the short ones, are
 * recomputed: the table is switched and the history evaluated again. The
 * table is shared, so this works for single-sequence contexts only. */
static int rope_switch(eng_ctx *c, int seq, int n_new, char *err, size_t errlen) {
    const phi3_config *cfg = &c->m->cfg;
    if (cfg->rope_scaling != PHI3_ROPE_LONGROPE || c->rope_long || c->n_past[seq] + n_new <= cfg->orig_max_pos)
        return 0;
    if (c->n_seq > 1) {
        snprintf(err, errlen, "LongRoPE: a sequence crosses original_max_position_embeddings (%d) in a "
                 "%d-sequence context; use one sequence for long inputs", cfg->orig_max_pos, c->n_seq);
        return -1;
    }
    if (eng_rope_upload(c, 1, err, errlen)) return -1;
    int old = c->n_past[0];
    c->n_past[0] = 0;
    return eval_chunks(c, 0, c->history, old, err, errlen);
}

int eng_ctx_eval_seq(eng_ctx *c, int seq, const int32_t *tokens, int n, char *err, size_t errlen) {
    if (check_seq(c, seq, tokens, n, err, errlen) || rope_switch(c, seq, n, err, errlen)) return -1;
    if (c->all_logits && n > c->logit_rows) {
        snprintf(err, errlen, "all_logits: %d tokens exceed n_batch %d", n, c->logit_rows);
        return -1;
    }
    if (n == 1 && seq == 0 && !c->all_logits) { /* one token: the pre-recorded decode step */
        int vocab = c->m->cfg.vocab;
        if (decode_step(c, tokens[0], err, errlen)) return -1;
        if (vkr_buffer_read(c->m->vk, c->logits, 0, c->host_logits, (uint64_t)vocab * 4)) {
            vkr_ctx_error_to(c->m->vk, err, errlen);
            return -1;
        }
        memcpy(c->seq_logits, c->host_logits, (size_t)vocab * 4);
    } else if (eval_chunks(c, seq, tokens, n, err, errlen)) {
        return -1;
    }
    c->host_rows = c->all_logits ? n : 1;
    return 0;
}

int eng_ctx_eval(eng_ctx *c, const int32_t *tokens, int n, char *err, size_t errlen) {
    return eng_ctx_eval_seq(c, 0, tokens, n, err, errlen);
}

int eng_ctx_eval_batch(eng_ctx *c, const eng_seq_tokens *items, int n_items, char *err, size_t errlen) {
    eng_segment seg[64];
    const int32_t *toks[64];
    if (n_items > 64 || n_items > c->n_seq) {
        snprintf(err, errlen, "%d items in one batch: at most %d (the context's sequences, and 64)", n_items,
                 c->n_seq < 64 ? c->n_seq : 64);
        return -1;
    }
    for (int i = 0; i < n_items; i++) {
        if (check_seq(c, items[i].seq, items[i].tokens, items[i].n, err, errlen) ||
            rope_switch(c, items[i].seq, items[i].n, err, errlen))
            return -1;
        for (int j = 0; j < i; j++)
            if (items[j].seq == items[i].seq) {
                snprintf(err, errlen, "sequence %d appears twice in one batch", items[i].seq);
                return -1;
            }
    }
    /* Items too long for one pass put all but their last n_batch tokens
     * through their own passes first; then whole items share passes. */
    int n_seg = 0, rows = 0;
    for (int i = 0; i < n_items; i++) {
        const eng_seq_tokens *it = &items[i];
        int head = it->n > c->n_batch ? it->n - c->n_batch : 0;
        if (head && eval_chunks(c, it->seq, it->tokens, head, err, errlen)) return -1;
        int k = it->n - head;
        if (rows + k > c->n_batch) {
            if (run_pass(c, seg, toks, n_seg, 0, err, errlen)) return -1;
            n_seg = rows = 0;
        }
        seg[n_seg] = (eng_segment){.seq = it->seq, .row0 = rows, .n = k};
        toks[n_seg++] = it->tokens + head;
        rows += k;
    }
    if (n_seg && run_pass(c, seg, toks, n_seg, 0, err, errlen)) return -1;
    c->host_rows = 1;
    return 0;
}

const float *eng_ctx_logits(const eng_ctx *c, int *rows) {
    if (rows) *rows = c->host_rows;
    return c->host_logits;
}

const float *eng_ctx_logits_seq(const eng_ctx *c, int seq) {
    if (seq < 0 || seq >= c->n_seq) return NULL;
    return c->seq_logits + (size_t)seq * c->m->cfg.vocab;
}

int eng_ctx_decode_greedy(eng_ctx *c, int32_t token, int32_t *next, char *err, size_t errlen) {
    if (check_seq(c, 0, &token, 1, err, errlen) || rope_switch(c, 0, 1, err, errlen)) return -1;
    if (decode_step(c, token, err, errlen)) return -1;
    *next = (int32_t) * (uint32_t *)vkr_buffer_map(c->next_id);
    return 0;
}

int eng_ctx_n_past(const eng_ctx *c) { return c->n_past[0]; }
int eng_ctx_n_past_seq(const eng_ctx *c, int seq) { return seq >= 0 && seq < c->n_seq ? c->n_past[seq] : -1; }
int eng_ctx_n_ctx(const eng_ctx *c) { return c->n_ctx; }
int eng_ctx_n_seq(const eng_ctx *c) { return c->n_seq; }
uint64_t eng_ctx_device_bytes(const eng_ctx *c) { return c->device_bytes; }

int eng_ctx_truncate_seq(eng_ctx *c, int seq, int n) {
    if (seq < 0 || seq >= c->n_seq || n < 0 || n > c->n_past[seq]) return -1;
    c->n_past[seq] = n;
    if (n == 0 && c->rope_long && c->n_seq == 1) {
        char err[256];
        if (eng_rope_upload(c, 0, err, sizeof err)) return -1;
    }
    return 0;
}

int eng_ctx_truncate(eng_ctx *c, int n) { return eng_ctx_truncate_seq(c, 0, n); }

int eng_ctx_copy_seq(eng_ctx *c, int src, int dst, int n, char *err, size_t errlen) {
    if (src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq || src == dst || n < 0 || n > c->n_past[src]) {
        snprintf(err, errlen, "copy of %d tokens from sequence %d to %d: invalid (%d sequences, %d cached in %d)", n,
                 src, dst, c->n_seq, src >= 0 && src < c->n_seq ? c->n_past[src] : 0, src);
        return -1;
    }
    const phi3_config *cfg = &c->m->cfg;
    uint64_t row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2;
    if (n > 0) {
        if (vkr_cmd_begin(c->prefill_cmd)) goto fail;
        for (int l = 0; l < cfg->n_layers; l++) {
            vkr_cmd_copy(c->prefill_cmd, c->k_cache[l], (uint64_t)src * c->n_ctx * row, c->k_cache[l],
                         (uint64_t)dst * c->n_ctx * row, (uint64_t)n * row);
            vkr_cmd_copy(c->prefill_cmd, c->v_cache[l], (uint64_t)src * c->n_ctx * row, c->v_cache[l],
                         (uint64_t)dst * c->n_ctx * row, (uint64_t)n * row);
        }
        if (vkr_cmd_end(c->prefill_cmd) || vkr_cmd_run(c->prefill_cmd)) goto fail;
    }
    memcpy(c->history + (size_t)dst * c->n_ctx, c->history + (size_t)src * c->n_ctx, (size_t)n * sizeof(int32_t));
    c->n_past[dst] = n;
    return 0;
fail:
    vkr_ctx_error_to(c->m->vk, err, errlen);
    return -1;
}

const int32_t *eng_ctx_tokens_seq(const eng_ctx *c, int seq) {
    return seq >= 0 && seq < c->n_seq ? c->history + (size_t)seq * c->n_ctx : NULL;
}

int eng_ctx_profile(eng_ctx *c, eng_op_profile *out, int cap) {
    if (!c->last_cmd) return 0;
    int n = vkr_cmd_dispatch_count(c->last_cmd) + 4;
    vkr_op_time *t = malloc((size_t)n * sizeof *t);
    if (!t) return -1;
    int k = vkr_cmd_profile(c->last_cmd, t, n), m = 0;
    for (int i = 0; i < k; i++) {
        int j = 0;
        while (j < m && strcmp(out[j].op, t[i].label)) j++;
        if (j == m) {
            if (m == cap) continue;
            out[m++] = (eng_op_profile){.op = t[i].label};
        }
        out[j].calls++;
        out[j].ms += t[i].ms;
        out[j].bytes += t[i].bytes, out[j].flops += t[i].flops;
    }
    free(t);
    return k < 0 ? -1 : m;
}
