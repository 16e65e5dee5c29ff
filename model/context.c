/* phi3_ctx: one sequence's KV cache, scratch and command buffers; eval and
 * decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine_internal.h"
#include "shaders/common.h"

#define MIB (1024.0 * 1024.0)

static vkr_buffer *make(phi3_ctx *c, const char *name, uint64_t bytes, vkr_buffer_kind kind, int *fail) {
    if (*fail) return NULL;
    vkr_buffer *b = vkr_buffer_create(c->m->vk, name, bytes, kind);
    if (!b) *fail = 1;
    else c->device_bytes += bytes;
    return b;
}

static void scratch_free(vkr_ctx *vk, phi3_scratch *s) {
    vkr_buffer *all[] = {s->ids, s->x, s->xn, s->qkv, s->q, s->attn, s->gate_up, s->ff, s->att_scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(vk, all[i]);
    memset(s, 0, sizeof *s);
}

static int scratch_init(phi3_ctx *c, phi3_scratch *s, int cap, int n_split) {
    const phi3_config *cfg = &c->m->cfg;
    uint64_t T = (uint64_t)cap, H = (uint64_t)cfg->hidden, F = (uint64_t)cfg->intermediate;
    uint64_t QD = (uint64_t)cfg->n_heads * cfg->head_dim, QKV = (uint64_t)(cfg->n_heads + 2 * cfg->n_kv_heads) * cfg->head_dim;
    int fail = 0;
    s->cap = cap;
    s->n_split = n_split;
    s->ids = make(c, "ids", T * 4, VKR_BUF_HOST, &fail);
    s->x = make(c, "x", T * H * 4, VKR_BUF_DEVICE, &fail);
    s->xn = make(c, "xn", T * vkr_ld((uint32_t)H) * 2, VKR_BUF_DEVICE, &fail);
    s->qkv = make(c, "qkv", T * QKV * 4, VKR_BUF_DEVICE, &fail);
    s->q = make(c, "q", T * QD * 4, VKR_BUF_DEVICE, &fail);
    s->attn = make(c, "attn", T * vkr_ld((uint32_t)QD) * 2, VKR_BUF_DEVICE, &fail);
    s->gate_up = make(c, "gate_up", T * 2 * F * 4, VKR_BUF_DEVICE, &fail);
    s->ff = make(c, "ff", T * vkr_ld((uint32_t)F) * 2, VKR_BUF_DEVICE, &fail);
    uint64_t as = vkr_attention_scratch_bytes((uint32_t)cfg->n_heads, (uint32_t)cfg->head_dim, (uint32_t)cap,
                                              (uint32_t)n_split);
    s->att_scratch = make(c, "attention.scratch", as ? as : 16, VKR_BUF_DEVICE, &fail);
    return fail ? -1 : 0;
}

int phi3_rope_upload(phi3_ctx *c, int use_long, char *err, size_t errlen) {
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
    vkr_rope_table(tab, (uint32_t)c->n_ctx, (uint32_t)cfg->head_dim, cfg->rope_theta, div, mscale);
    int rc = vkr_buffer_write(c->m->vk, c->cos_sin, 0, tab, n * sizeof *tab);
    free(tab);
    if (rc) snprintf(err, errlen, "%s", vkr_ctx_error(c->m->vk));
    c->rope_long = use_long;
    return rc;
}

static int record_decode(phi3_ctx *c) {
    if (vkr_cmd_begin(c->decode_cmd)) return -1;
    phi3_forward_record(c, c->decode_cmd, &c->dec, 1, 0);
    return vkr_cmd_end(c->decode_cmd);
}

phi3_ctx *phi3_ctx_create(phi3_model *m, const phi3_ctx_opts *opts, char *err, size_t errlen) {
    phi3_ctx_opts o = opts ? *opts : (phi3_ctx_opts){0};
    const phi3_config *cfg = &m->cfg;
    phi3_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    c->m = m;
    c->n_ctx = o.n_ctx > 0 ? o.n_ctx : (cfg->max_pos < 4096 ? cfg->max_pos : 4096);
    c->n_batch = o.n_batch > 0 ? o.n_batch : 512;
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->all_logits = o.all_logits;
    uint64_t kv_row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2;
    const vkr_device_info *dev = vkr_ctx_device(m->vk);
    if (c->n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "--ctx %d exceeds the model's context of %d tokens", c->n_ctx, cfg->max_pos);
        goto fail_early;
    }
    if ((uint64_t)c->n_ctx * kv_row > dev->max_storage_buffer_range) {
        snprintf(err, errlen, "--ctx %d needs a %.0f MiB KV cache per layer; %s allows %.0f MiB per buffer: use --ctx %llu "
                 "or less", c->n_ctx, c->n_ctx * kv_row / MIB, dev->name, dev->max_storage_buffer_range / MIB,
                 (unsigned long long)(dev->max_storage_buffer_range / kv_row));
        goto fail_early;
    }
    c->logit_rows = c->all_logits ? c->n_batch : 1;
    c->k_cache = calloc((size_t)cfg->n_layers, sizeof *c->k_cache);
    c->v_cache = calloc((size_t)cfg->n_layers, sizeof *c->v_cache);
    c->host_logits = malloc((size_t)c->logit_rows * cfg->vocab * sizeof(float));
    c->history = malloc((size_t)c->n_ctx * sizeof *c->history);
    if (!c->k_cache || !c->v_cache || !c->host_logits || !c->history) {
        snprintf(err, errlen, "out of host memory");
        goto fail;
    }
    int fail = 0;
    char name[32];
    for (int l = 0; l < cfg->n_layers; l++) {
        snprintf(name, sizeof name, "k_cache.%d", l);
        c->k_cache[l] = make(c, name, (uint64_t)c->n_ctx * kv_row, VKR_BUF_DEVICE, &fail);
        snprintf(name, sizeof name, "v_cache.%d", l);
        c->v_cache[l] = make(c, name, (uint64_t)c->n_ctx * kv_row, VKR_BUF_DEVICE, &fail);
    }
    c->cos_sin = make(c, "rope.cos_sin", (uint64_t)c->n_ctx * cfg->head_dim * 4, VKR_BUF_DEVICE, &fail);
    c->params = make(c, "params", sizeof(struct step_params), VKR_BUF_HOST, &fail);
    c->last_x = make(c, "last_x", (uint64_t)cfg->hidden * 4, VKR_BUF_DEVICE, &fail);
    c->logits = make(c, "logits", (uint64_t)c->logit_rows * cfg->vocab * 4, VKR_BUF_DEVICE, &fail);
    c->next_id = make(c, "next_id", 16, VKR_BUF_HOST, &fail);
    /* Decode attention splits the keys so a long context still spreads over
     * the device: about one range per 256 cached tokens, at most 16. */
    int split = c->n_ctx / 256;
    split = split < 1 ? 1 : split > 16 ? 16 : split;
    if (fail || scratch_init(c, &c->pre, c->n_batch, 1) || scratch_init(c, &c->dec, 1, split)) {
        snprintf(err, errlen, "%s", vkr_ctx_error(m->vk));
        goto fail;
    }
    c->prefill_cmd = vkr_cmd_create(m->vk, "prefill");
    c->decode_cmd = vkr_cmd_create(m->vk, "decode");
    if (!c->prefill_cmd || !c->decode_cmd || record_decode(c)) {
        snprintf(err, errlen, "%s", vkr_ctx_error(m->vk));
        goto fail;
    }
    if (phi3_rope_upload(c, 0, err, errlen)) goto fail;
    if (m->verbose)
        fprintf(stderr, "phi3vk: context %d tokens: KV cache %.1f MiB, scratch %.1f MiB\n", c->n_ctx,
                2.0 * cfg->n_layers * c->n_ctx * kv_row / MIB,
                (c->device_bytes - 2.0 * cfg->n_layers * c->n_ctx * kv_row) / MIB);
    return c;
fail:
    phi3_ctx_destroy(c);
    return NULL;
fail_early:
    free(c);
    return NULL;
}

void phi3_ctx_destroy(phi3_ctx *c) {
    if (!c) return;
    vkr_ctx *vk = c->m->vk;
    vkr_cmd_destroy(vk, c->prefill_cmd);
    vkr_cmd_destroy(vk, c->decode_cmd);
    scratch_free(vk, &c->pre);
    scratch_free(vk, &c->dec);
    for (int l = 0; c->k_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->k_cache[l]);
    for (int l = 0; c->v_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->v_cache[l]);
    vkr_buffer *all[] = {c->cos_sin, c->params, c->last_x, c->logits, c->next_id};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(vk, all[i]);
    free(c->k_cache);
    free(c->v_cache);
    free(c->host_logits);
    free(c->history);
    free(c);
}

static void set_params(phi3_ctx *c, int n_tokens) {
    struct step_params *p = vkr_buffer_map(c->params);
    p->n_past = (uint32_t)c->n_past;
    p->n_tokens = (uint32_t)n_tokens;
}

static int check_tokens(const phi3_ctx *c, const int32_t *tokens, int n, char *err, size_t errlen) {
    if (n <= 0) {
        snprintf(err, errlen, "no tokens to evaluate");
        return -1;
    }
    if (c->n_past + n > c->n_ctx) {
        snprintf(err, errlen, "context full: %d tokens in the cache + %d new > --ctx %d", c->n_past, n, c->n_ctx);
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

/* One prefill pass of n <= n_batch tokens; logits land in host rows
 * [row0, row0 + n) (all_logits) or row 0. */
static int prefill_pass(phi3_ctx *c, const int32_t *tokens, int n, int row0, char *err, size_t errlen) {
    vkr_ctx *vk = c->m->vk;
    int vocab = c->m->cfg.vocab;
    memcpy(vkr_buffer_map(c->pre.ids), tokens, (size_t)n * 4);
    set_params(c, n);
    if (vkr_cmd_begin(c->prefill_cmd)) goto fail;
    phi3_forward_record(c, c->prefill_cmd, &c->pre, n, c->all_logits);
    if (vkr_cmd_end(c->prefill_cmd) || vkr_cmd_run(c->prefill_cmd)) goto fail;
    c->last_cmd = c->prefill_cmd;
    int rows = c->all_logits ? n : 1;
    float *dst = c->host_logits + (c->all_logits ? (size_t)row0 * vocab : 0);
    if (vkr_buffer_read(vk, c->logits, 0, dst, (uint64_t)rows * vocab * 4)) goto fail;
    memmove(c->history + c->n_past, tokens, (size_t)n * sizeof *tokens); /* may be history itself */
    c->n_past += n;
    return 0;
fail:
    snprintf(err, errlen, "%s", vkr_ctx_error(vk));
    return -1;
}

/* Appends one token with the pre-recorded decode command buffer. */
static int decode_step(phi3_ctx *c, int32_t token, char *err, size_t errlen) {
    *(uint32_t *)vkr_buffer_map(c->dec.ids) = (uint32_t)token;
    set_params(c, 1);
    if (vkr_cmd_run(c->decode_cmd)) {
        snprintf(err, errlen, "%s", vkr_ctx_error(c->m->vk));
        return -1;
    }
    c->last_cmd = c->decode_cmd;
    c->history[c->n_past++] = token;
    return 0;
}

/* LongRoPE: once the sequence grows past original_max_position_embeddings
 * every position uses the long factors (as Hugging Face computes a sequence
 * of that length), so the cached keys, rotated with the short ones, are
 * recomputed: the table is switched and the history evaluated again. */
static int rope_switch(phi3_ctx *c, int n_new, char *err, size_t errlen) {
    const phi3_config *cfg = &c->m->cfg;
    if (cfg->rope_scaling != PHI3_ROPE_LONGROPE || c->rope_long || c->n_past + n_new <= cfg->orig_max_pos) return 0;
    if (phi3_rope_upload(c, 1, err, errlen)) return -1;
    int old = c->n_past;
    c->n_past = 0;
    for (int done = 0; done < old;) {
        int k = old - done < c->n_batch ? old - done : c->n_batch;
        if (prefill_pass(c, c->history + done, k, 0, err, errlen)) return -1;
        done += k;
    }
    return 0;
}

int phi3_ctx_eval(phi3_ctx *c, const int32_t *tokens, int n, char *err, size_t errlen) {
    if (check_tokens(c, tokens, n, err, errlen) || rope_switch(c, n, err, errlen)) return -1;
    if (c->all_logits && n > c->logit_rows) {
        snprintf(err, errlen, "all_logits: %d tokens exceed n_batch %d", n, c->logit_rows);
        return -1;
    }
    if (n == 1 && !c->all_logits) { /* one token: the pre-recorded decode step */
        if (decode_step(c, tokens[0], err, errlen) ||
            vkr_buffer_read(c->m->vk, c->logits, 0, c->host_logits, (uint64_t)c->m->cfg.vocab * 4)) {
            snprintf(err, errlen, "%s", vkr_ctx_error(c->m->vk));
            return -1;
        }
    }
    for (int done = 0; done < n && (n > 1 || c->all_logits);) {
        int k = n - done < c->n_batch ? n - done : c->n_batch;
        if (prefill_pass(c, tokens + done, k, done, err, errlen)) return -1;
        done += k;
    }
    c->host_rows = c->all_logits ? n : 1;
    return 0;
}

const float *phi3_ctx_logits(const phi3_ctx *c, int *rows) {
    if (rows) *rows = c->host_rows;
    return c->host_logits;
}

int phi3_ctx_decode_greedy(phi3_ctx *c, int32_t token, int32_t *next, char *err, size_t errlen) {
    if (check_tokens(c, &token, 1, err, errlen) || rope_switch(c, 1, err, errlen)) return -1;
    if (decode_step(c, token, err, errlen)) return -1;
    *next = (int32_t) * (uint32_t *)vkr_buffer_map(c->next_id);
    return 0;
}

int phi3_ctx_n_past(const phi3_ctx *c) { return c->n_past; }
int phi3_ctx_n_ctx(const phi3_ctx *c) { return c->n_ctx; }
uint64_t phi3_ctx_device_bytes(const phi3_ctx *c) { return c->device_bytes; }

int phi3_ctx_truncate(phi3_ctx *c, int n) {
    if (n < 0 || n > c->n_past) return -1;
    c->n_past = n;
    if (n == 0 && c->rope_long) {
        char err[256];
        if (phi3_rope_upload(c, 0, err, sizeof err)) return -1;
    }
    return 0;
}

int phi3_ctx_profile(phi3_ctx *c, phi3_op_profile *out, int cap) {
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
            out[m++] = (phi3_op_profile){.op = t[i].label};
        }
        out[j].calls++;
        out[j].ms += t[i].ms;
    }
    free(t);
    return k < 0 ? -1 : m;
}
