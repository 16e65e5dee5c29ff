/* The Phi-3 forward pass as a sequence of dispatches, in the order of the
 * math of Hugging Face's modeling_phi3:
 *   h   = x + o_proj(attention(rope(split(qkv_proj(rmsnorm1(x))))))
 *   out = h + down_proj(silu(gate) * up),  gate|up = gate_up_proj(rmsnorm2(h))
 * then the final RMSNorm and lm_head. */
#include "engine/engine_internal.h"

/* Row i of dst := the last row of segment i in src (rows of row_bytes). */
static void gather_last(vkr_cmd *cmd, vkr_buffer *src, vkr_buffer *dst, const eng_segment *seg, int n_seg,
                        uint64_t row_bytes) {
    for (int i = 0; i < n_seg; i++)
        vkr_cmd_copy(cmd, src, (uint64_t)(seg[i].row0 + seg[i].n - 1) * row_bytes, dst, (uint64_t)i * row_bytes,
                     row_bytes);
}

void eng_forward_record(eng_ctx *c, vkr_cmd *cmd, eng_scratch *s, const eng_segment *seg, int n_seg,
                         int logits_all) {
    const eng_model *m = c->m;
    const phi3_config *cfg = &m->cfg;
    const uint32_t H = (uint32_t)cfg->hidden, NH = (uint32_t)cfg->n_heads, NKV = (uint32_t)cfg->n_kv_heads;
    const uint32_t D = (uint32_t)cfg->head_dim, F = (uint32_t)cfg->intermediate;
    uint32_t T = 0;
    for (int i = 0; i < n_seg; i++) T += (uint32_t)seg[i].n;
    const uint32_t QKV = (NH + 2 * NKV) * D;
    const float eps = (float)cfg->rms_eps;

    /* x = embedding rows of the token ids */
    kern_embed(cmd, &(kern_embed_args){.weight = m->embd, .ids = s->ids, .out = s->x, .dim = H, .n_tokens = T});

    /* Without logits_all only each segment's last row reaches an output. The
     * last layer still needs every token's keys and values (later steps read
     * them), so it runs rmsnorm, qkv and rope on all T rows; then attention,
     * o_proj and the MLP on the n_seg last rows only, packed into last_q and
     * last_x (T - n_seg fewer rows through 3/4 of the layer's weights). */
    const int prune = !logits_all && T > (uint32_t)n_seg;
    for (int l = 0; l < cfg->n_layers; l++) {
        const eng_dev_layer *L = &m->layers[l];
        const int last = prune && l == cfg->n_layers - 1;
        /* attention block */
        kern_rmsnorm(cmd, &(kern_rmsnorm_args){
            .weight = L->attn_norm, .x = s->x, .out = s->xn, .n = H, .n_tokens = T, .eps = eps});
        kern_matmul(cmd, &(kern_matmul_args){
            .weight = L->qkv, .x = s->xn, .out = s->qkv, .n_out = QKV, .n_in = H, .n_tokens = T});
        for (int i = 0; i < n_seg; i++) /* keys and values into each sequence's cache */
            kern_rope(cmd, &(kern_rope_args){
                .qkv = s->qkv, .cos_sin = c->cos_sin, .params = c->params, .q = s->q, .k_cache = c->k_cache[l],
                .v_cache = c->v_cache[l], .n_heads = NH, .n_kv_heads = NKV, .head_dim = D,
                .n_tokens = (uint32_t)seg[i].n, .row0 = (uint32_t)seg[i].row0, .seq = (uint32_t)seg[i].seq,
                .max_pos = (uint32_t)c->n_ctx, .ctx = (uint32_t)(c->n_seq * c->n_ctx)});
        /* The last layer of a pruned pass: the last query of segment i is row
         * i of last_q, positioned by params[n_seq + seq]. */
        if (last) gather_last(cmd, s->q, c->last_q, seg, n_seg, (uint64_t)NH * D * 4);
        for (int i = 0; i < n_seg; i++) /* each sequence attends to its own cache */
            kern_attention(cmd, &(kern_attention_args){
                .q = last ? c->last_q : s->q, .k_cache = c->k_cache[l], .v_cache = c->v_cache[l],
                .params = c->params, .scratch = s->att_scratch, .out = s->attn, .n_heads = NH, .n_kv_heads = NKV,
                .head_dim = D, .n_tokens = last ? 1u : (uint32_t)seg[i].n,
                .row0 = last ? (uint32_t)i : (uint32_t)seg[i].row0,
                .seq = (uint32_t)(last ? c->n_seq + seg[i].seq : seg[i].seq),
                .window = (uint32_t)cfg->sliding_window, .n_split = (uint32_t)s->n_split});
        vkr_buffer *x = s->x; /* the residual stream, T rows or (last) the n_seg last rows */
        uint32_t rows = T;
        if (last) {
            gather_last(cmd, s->x, c->last_x, seg, n_seg, (uint64_t)H * 4);
            x = c->last_x, rows = (uint32_t)n_seg;
        }
        kern_matmul(cmd, &(kern_matmul_args){
            .weight = L->o, .x = s->attn, .out = x, .n_out = H, .n_in = NH * D, .n_tokens = rows, .accumulate = 1});
        /* feed-forward block */
        kern_rmsnorm(cmd, &(kern_rmsnorm_args){
            .weight = L->ffn_norm, .x = x, .out = s->xn, .n = H, .n_tokens = rows, .eps = eps});
        kern_matmul(cmd, &(kern_matmul_args){
            .weight = L->gate_up, .x = s->xn, .out = s->gate_up, .n_out = 2 * F, .n_in = H, .n_tokens = rows});
        kern_silu_mul(cmd, &(kern_silu_mul_args){.gate_up = s->gate_up, .out = s->ff, .n_ff = F, .n_tokens = rows});
        kern_matmul(cmd, &(kern_matmul_args){
            .weight = L->down, .x = s->ff, .out = x, .n_out = H, .n_in = F, .n_tokens = rows, .accumulate = 1});
        vkr_cmd_boundary(cmd); /* a long prefill becomes several submissions (GPU watchdogs) */
    }

    /* Only the last position's logits are needed to continue a sequence:
     * the final norm and lm_head run on one row per sequence (packed into
     * last_x by the last layer, or copied there when no layer pruned). */
    vkr_buffer *xf = s->x;
    uint32_t rows = T;
    if (prune) {
        xf = c->last_x;
        rows = (uint32_t)n_seg;
    } else if (!logits_all && (n_seg > 1 || T > 1)) {
        gather_last(cmd, s->x, c->last_x, seg, n_seg, (uint64_t)H * 4);
        xf = c->last_x;
        rows = (uint32_t)n_seg;
    }
    /* logits = lm_head(rmsnorm(x)), next id = argmax */
    kern_rmsnorm(cmd, &(kern_rmsnorm_args){
        .weight = m->out_norm, .x = xf, .out = s->xn, .n = H, .n_tokens = rows, .eps = eps});
    kern_matmul(cmd, &(kern_matmul_args){
        .weight = m->lm_head, .x = s->xn, .out = c->logits, .n_out = (uint32_t)cfg->vocab, .n_in = H,
        .n_tokens = rows});
    if (!logits_all)
        kern_argmax(cmd, &(kern_argmax_args){
            .logits = c->logits, .out = c->next_id, .n_vocab = (uint32_t)cfg->vocab, .n_tokens = rows});
}
