/* eng_ctx: the sequences' KV caches, the scratch of a pass, the RoPE table
 * and the recorded single-token step; sequence bookkeeping. Steps are in
 * engine/step.c. */
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

/* The single-token step, recorded once for whichever sequence it runs:
 * its rope and attention read params[ENG_STEP_SLOT], which eng_step points
 * at that sequence's position and cache rows. */
static int record_step(eng_ctx *c) {
    if (vkr_cmd_begin(c->step_cmd)) return -1;
    eng_forward_record(c, c->step_cmd, &c->dec, &(eng_segment){.seq = ENG_STEP_SLOT(c), .row0 = 0, .n = 1}, 1, 0);
    return vkr_cmd_end(c->step_cmd);
}

eng_ctx *eng_ctx_create(eng_model *m, const eng_plan *p, char *err, size_t errlen) {
    const phi3_config *cfg = &m->cfg;
    if (!p || p->n_ctx < 1 || p->n_seq < 1 || p->n_batch < 1 || p->n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "context: a plan of %d sequences x %d tokens (passes of %d) for a model of %d: make it "
                 "with eng_plan_make", p ? p->n_seq : 0, p ? p->n_ctx : 0, p ? p->n_batch : 0, cfg->max_pos);
        return NULL;
    }
    eng_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    c->m = m;
    c->n_ctx = p->n_ctx;
    c->n_batch = p->n_batch < p->n_ctx ? p->n_batch : p->n_ctx;
    c->all_logits = p->all_logits;
    c->n_seq = p->n_seq;
    uint64_t kv_row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2;
    c->logit_rows = c->all_logits && c->n_batch > c->n_seq ? c->n_batch : c->n_seq;
    c->k_cache = calloc((size_t)cfg->n_layers, sizeof *c->k_cache);
    c->v_cache = calloc((size_t)cfg->n_layers, sizeof *c->v_cache);
    c->all_logits_host = c->all_logits ? malloc((size_t)c->n_batch * cfg->vocab * sizeof(float)) : NULL;
    c->history = malloc((size_t)c->n_seq * c->n_ctx * sizeof *c->history);
    c->seq_logits = malloc((size_t)c->n_seq * cfg->vocab * sizeof(float));
    c->n_past = calloc((size_t)c->n_seq, sizeof *c->n_past);
    if (!c->k_cache || !c->v_cache || (c->all_logits && !c->all_logits_host) || !c->history || !c->seq_logits ||
        !c->n_past) {
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
    c->params = make(c, "params", (2ull * c->n_seq + 1) * sizeof(struct step_params), VKR_BUF_HOST, &fail);
    c->last_x = make(c, "last_x", (uint64_t)c->n_seq * cfg->hidden * 4, VKR_BUF_DEVICE, &fail);
    c->last_q = make(c, "last_q", (uint64_t)c->n_seq * cfg->n_heads * cfg->head_dim * 4, VKR_BUF_DEVICE, &fail);
    c->logits = make(c, "logits", (uint64_t)c->logit_rows * cfg->vocab * 4, VKR_BUF_DEVICE, &fail);
    c->next_id = make(c, "next_id", (uint64_t)c->n_seq * 4, VKR_BUF_HOST, &fail);
    /* Single-token attention splits the keys so a long context still spreads
     * over a GPU: one range per attn_split_tokens cached tokens, at most 16.
     * CPU drivers already keep every thread busy with the heads. */
    uint32_t per = vkr_ctx_profile(m->vk)->attn_split_tokens;
    int split = per ? c->n_ctx / (int)per : 1;
    split = split < 1 ? 1 : split > 16 ? 16 : split;
    if (fail || scratch_init(c, &c->pre, c->n_batch, 1) || scratch_init(c, &c->dec, 1, split)) {
        vkr_ctx_error_to(m->vk, err, errlen);
        goto fail;
    }
    c->pass_cmd = vkr_cmd_create(m->vk, "pass");
    c->step_cmd = vkr_cmd_create(m->vk, "step");
    if (!c->pass_cmd || !c->step_cmd || record_step(c)) {
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
}

void eng_ctx_destroy(eng_ctx *c) {
    if (!c) return;
    vkr_ctx *vk = c->m->vk;
    vkr_cmd_destroy(vk, c->pass_cmd);
    vkr_cmd_destroy(vk, c->step_cmd);
    scratch_free(vk, &c->pre);
    scratch_free(vk, &c->dec);
    for (int l = 0; c->k_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->k_cache[l]);
    for (int l = 0; c->v_cache && l < c->m->cfg.n_layers; l++) vkr_buffer_destroy(vk, c->v_cache[l]);
    vkr_buffer *all[] = {c->cos_sin, c->params, c->last_x, c->last_q, c->logits, c->next_id};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vkr_buffer_destroy(vk, all[i]);
    free(c->k_cache);
    free(c->v_cache);
    free(c->all_logits_host);
    free(c->history);
    free(c->seq_logits);
    free(c->n_past);
    free(c);
}

int eng_ctx_n_ctx(const eng_ctx *c) { return c->n_ctx; }
int eng_ctx_n_seq(const eng_ctx *c) { return c->n_seq; }
uint64_t eng_ctx_device_bytes(const eng_ctx *c) { return c->device_bytes; }

/* ---- sequences ---- */

int eng_seq_len(const eng_ctx *c, int seq) { return seq >= 0 && seq < c->n_seq ? c->n_past[seq] : -1; }

const int32_t *eng_seq_tokens(const eng_ctx *c, int seq) {
    return seq >= 0 && seq < c->n_seq ? c->history + (size_t)seq * c->n_ctx : NULL;
}

int eng_seq_truncate(eng_ctx *c, int seq, int n) {
    if (seq < 0 || seq >= c->n_seq || n < 0 || n > c->n_past[seq]) return -1;
    c->n_past[seq] = n;
    if (n == 0 && c->rope_long && c->n_seq == 1) {
        char err[256];
        if (eng_rope_upload(c, 0, err, sizeof err)) return -1;
    }
    return 0;
}

int eng_seq_copy(eng_ctx *c, int src, int dst, int n, char *err, size_t errlen) {
    if (src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq || src == dst || n < 0 || n > c->n_past[src]) {
        snprintf(err, errlen, "copy of %d tokens from sequence %d to %d: invalid (%d sequences, %d cached in %d)", n,
                 src, dst, c->n_seq, src >= 0 && src < c->n_seq ? c->n_past[src] : 0, src);
        return -1;
    }
    const phi3_config *cfg = &c->m->cfg;
    uint64_t row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2;
    if (n > 0) {
        if (vkr_cmd_begin(c->pass_cmd)) return vkr_ctx_error_to(c->m->vk, err, errlen);
        for (int l = 0; l < cfg->n_layers; l++) {
            vkr_cmd_copy(c->pass_cmd, c->k_cache[l], (uint64_t)src * c->n_ctx * row, c->k_cache[l],
                         (uint64_t)dst * c->n_ctx * row, (uint64_t)n * row);
            vkr_cmd_copy(c->pass_cmd, c->v_cache[l], (uint64_t)src * c->n_ctx * row, c->v_cache[l],
                         (uint64_t)dst * c->n_ctx * row, (uint64_t)n * row);
        }
        if (vkr_cmd_end(c->pass_cmd) || vkr_cmd_run(c->pass_cmd)) return vkr_ctx_error_to(c->m->vk, err, errlen);
    }
    memcpy(c->history + (size_t)dst * c->n_ctx, c->history + (size_t)src * c->n_ctx, (size_t)n * sizeof(int32_t));
    c->n_past[dst] = n;
    return 0;
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
