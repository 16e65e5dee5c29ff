/* The Phi-3 forward pass as a sequence of dispatches, in the order of the
 * math of Hugging Face's modeling_phi3:
 *   h   = x + o_proj(attention(rope(split(qkv_proj(rmsnorm1(x))))))
 *   out = h + down_proj(silu(gate) * up),  gate|up = gate_up_proj(rmsnorm2(h))
 * then the final RMSNorm, lm_head and the device argmax. */
#include "engine/engine_internal.h"

/* What one recording computes: the scratch, the segments (one per sequence)
 * and the sizes every step of a layer uses. */
typedef struct pass {
    eng_ctx *c;
    vkr_cmd *cmd;
    eng_scratch *s;
    const eng_segment *seg;
    int n_seg;
    uint32_t T;               /* tokens in the pass: sum of seg[i].n */
    uint32_t H, NH, NKV, D, F, QKV;
    float eps;
} pass;

/* Row i of dst := the last row of segment i in src (rows of row_bytes). */
static void gather_last(const pass *p, vkr_buffer *src, vkr_buffer *dst, uint64_t row_bytes) {
    for (int i = 0; i < p->n_seg; i++)
        vkr_cmd_copy(p->cmd, src, (uint64_t)(p->seg[i].row0 + p->seg[i].n - 1) * row_bytes, dst, (uint64_t)i * row_bytes,
                     row_bytes);
}

/* qkv = W_qkv rmsnorm(x); rotate q and k, write k and v to each sequence's
 * cache (every token of every segment: later steps read them). */
static void record_qkv_rope(const pass *p, int l) {
    const eng_dev_layer *L = &p->c->m->layers[l];
    eng_scratch *s = p->s;
    kern_rmsnorm(p->cmd, &(kern_rmsnorm_args){
        .weight = L->attn_norm, .x = s->x, .out = s->xn, .n = p->H, .n_tokens = p->T, .eps = p->eps});
    kern_matmul(p->cmd, &(kern_matmul_args){
        .weight = L->qkv, .x = s->xn, .out = s->qkv, .n_out = p->QKV, .n_in = p->H, .n_tokens = p->T});
    for (int i = 0; i < p->n_seg; i++)
        kern_rope(p->cmd, &(kern_rope_args){
            .qkv = s->qkv, .cos_sin = p->c->cos_sin, .params = p->c->params, .q = s->q, .k_cache = p->c->k_cache[l],
            .v_cache = p->c->v_cache[l], .n_heads = p->NH, .n_kv_heads = p->NKV, .head_dim = p->D,
            .n_tokens = (uint32_t)p->seg[i].n, .row0 = (uint32_t)p->seg[i].row0, .seq = (uint32_t)p->seg[i].seq,
            .max_pos = (uint32_t)p->c->n_ctx, .ctx = (uint32_t)(p->c->n_seq * p->c->n_ctx)});
}

/* Each sequence's queries attend to its own cache. last: the queries are
 * the segments' last ones, packed into last_q (row i = segment i) and
 * positioned by params[n_seq + seq]. */
static void record_attention(const pass *p, int l, int last) {
    eng_ctx *c = p->c;
    for (int i = 0; i < p->n_seg; i++)
        kern_attention(p->cmd, &(kern_attention_args){
            .q = last ? c->last_q : p->s->q, .k_cache = c->k_cache[l], .v_cache = c->v_cache[l],
            .params = c->params, .scratch = p->s->att_scratch, .out = p->s->attn, .n_heads = p->NH,
            .n_kv_heads = p->NKV, .head_dim = p->D, .n_tokens = last ? 1u : (uint32_t)p->seg[i].n,
            .row0 = last ? (uint32_t)i : (uint32_t)p->seg[i].row0,
            .seq = (uint32_t)(last ? c->n_seq + p->seg[i].seq : p->seg[i].seq),
            .window = (uint32_t)c->m->cfg.sliding_window, .n_split = (uint32_t)p->s->n_split});
}

/* x += W_o attn; x += W_down (silu(gate) * up) of rmsnorm(x), on rows rows of x. */
static void record_out_mlp(const pass *p, int l, vkr_buffer *x, uint32_t rows) {
    const eng_dev_layer *L = &p->c->m->layers[l];
    eng_scratch *s = p->s;
    kern_matmul(p->cmd, &(kern_matmul_args){
        .weight = L->o, .x = s->attn, .out = x, .n_out = p->H, .n_in = p->NH * p->D, .n_tokens = rows, .accumulate = 1});
    kern_rmsnorm(p->cmd, &(kern_rmsnorm_args){
        .weight = L->ffn_norm, .x = x, .out = s->xn, .n = p->H, .n_tokens = rows, .eps = p->eps});
    kern_matmul(p->cmd, &(kern_matmul_args){
        .weight = L->gate_up, .x = s->xn, .out = s->gate_up, .n_out = 2 * p->F, .n_in = p->H, .n_tokens = rows});
    kern_silu_mul(p->cmd, &(kern_silu_mul_args){.gate_up = s->gate_up, .out = s->ff, .n_ff = p->F, .n_tokens = rows});
    kern_matmul(p->cmd, &(kern_matmul_args){
        .weight = L->down, .x = s->ff, .out = x, .n_out = p->H, .n_in = p->F, .n_tokens = rows, .accumulate = 1});
}

/* One decoder layer. last: only the segments' last rows reach an output,
 * so after keys and values are written for every token, attention, o_proj
 * and the MLP run on those rows alone (packed into last_q and last_x). */
static void record_layer(const pass *p, int l, int last) {
    record_qkv_rope(p, l);
    if (last) gather_last(p, p->s->q, p->c->last_q, (uint64_t)p->NH * p->D * 4);
    record_attention(p, l, last);
    if (last) gather_last(p, p->s->x, p->c->last_x, (uint64_t)p->H * 4);
    record_out_mlp(p, l, last ? p->c->last_x : p->s->x, last ? (uint32_t)p->n_seg : p->T);
    vkr_cmd_boundary(p->cmd); /* a long prefill becomes several submissions (GPU watchdogs) */
}

/* logits = lm_head(rmsnorm(x)) over rows rows of xf; next id = argmax. */
static void record_head(const pass *p, vkr_buffer *xf, uint32_t rows, int logits_all) {
    const eng_model *m = p->c->m;
    kern_rmsnorm(p->cmd, &(kern_rmsnorm_args){
        .weight = m->out_norm, .x = xf, .out = p->s->xn, .n = p->H, .n_tokens = rows, .eps = p->eps});
    kern_matmul(p->cmd, &(kern_matmul_args){
        .weight = m->lm_head, .x = p->s->xn, .out = p->c->logits, .n_out = (uint32_t)m->cfg.vocab, .n_in = p->H,
        .n_tokens = rows});
    if (!logits_all)
        kern_argmax(p->cmd, &(kern_argmax_args){
            .logits = p->c->logits, .out = p->c->next_id, .n_vocab = (uint32_t)m->cfg.vocab, .n_tokens = rows});
}

void eng_forward_record(eng_ctx *c, vkr_cmd *cmd, eng_scratch *s, const eng_segment *seg, int n_seg,
                        int logits_all) {
    const phi3_config *cfg = &c->m->cfg;
    pass p = {.c = c, .cmd = cmd, .s = s, .seg = seg, .n_seg = n_seg,
              .H = (uint32_t)cfg->hidden, .NH = (uint32_t)cfg->n_heads, .NKV = (uint32_t)cfg->n_kv_heads,
              .D = (uint32_t)cfg->head_dim, .F = (uint32_t)cfg->intermediate, .eps = (float)cfg->rms_eps};
    for (int i = 0; i < n_seg; i++) p.T += (uint32_t)seg[i].n;
    p.QKV = (p.NH + 2 * p.NKV) * p.D;

    /* x = embedding rows of the token ids */
    kern_embed(cmd, &(kern_embed_args){.weight = c->m->embd, .ids = s->ids, .out = s->x, .dim = p.H, .n_tokens = p.T});
    /* Without logits_all only each segment's last row reaches an output:
     * the last layer runs on those rows (T - n_seg fewer rows through 3/4
     * of its weights). */
    const int prune = !logits_all && p.T > (uint32_t)n_seg;
    for (int l = 0; l < cfg->n_layers; l++) record_layer(&p, l, prune && l == cfg->n_layers - 1);
    /* The head runs on one row per sequence unless every position's logits
     * are wanted (packed into last_x by the last layer, or copied there). */
    if (logits_all) {
        record_head(&p, s->x, p.T, 1);
    } else {
        if (!prune && (n_seg > 1 || p.T > 1)) gather_last(&p, s->x, c->last_x, (uint64_t)p.H * 4);
        record_head(&p, prune || n_seg > 1 || p.T > 1 ? c->last_x : s->x, (uint32_t)n_seg, 0);
    }
}
