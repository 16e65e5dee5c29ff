/* The Phi-3 forward pass as a sequence of dispatches, in the order of the
 * math of Hugging Face's modeling_phi3:
 *   h   = x + o_proj(attention(rope(split(qkv_proj(rmsnorm1(x))))))
 *   out = h + down_proj(silu(gate) * up),  gate|up = gate_up_proj(rmsnorm2(h))
 * then the final RMSNorm and lm_head. */
#include "model/engine_internal.h"

void phi3_forward_record(phi3_ctx *c, vkr_cmd *cmd, phi3_scratch *s, const phi3_segment *seg, int n_seg,
                         int logits_all) {
    const phi3_model *m = c->m;
    const phi3_config *cfg = &m->cfg;
    const uint32_t H = (uint32_t)cfg->hidden, NH = (uint32_t)cfg->n_heads, NKV = (uint32_t)cfg->n_kv_heads;
    const uint32_t D = (uint32_t)cfg->head_dim, F = (uint32_t)cfg->intermediate;
    uint32_t T = 0;
    for (int i = 0; i < n_seg; i++) T += (uint32_t)seg[i].n;
    const uint32_t QKV = (NH + 2 * NKV) * D;
    const float eps = (float)cfg->rms_eps;

    /* x = embedding rows of the token ids */
    vkr_op_embed(cmd, &(vkr_embed_args){.weight = m->embd, .ids = s->ids, .out = s->x, .dim = H, .n_tokens = T});

    for (int l = 0; l < cfg->n_layers; l++) {
        const phi3_dev_layer *L = &m->layers[l];
        /* attention block */
        vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){
            .weight = L->attn_norm, .x = s->x, .out = s->xn, .n = H, .n_tokens = T, .eps = eps});
        vkr_op_matmul(cmd, &(vkr_matmul_args){
            .weight = L->qkv, .x = s->xn, .out = s->qkv, .n_out = QKV, .n_in = H, .n_tokens = T});
        for (int i = 0; i < n_seg; i++) { /* each sequence attends to its own cache */
            const uint32_t row0 = (uint32_t)seg[i].row0, n = (uint32_t)seg[i].n, sq = (uint32_t)seg[i].seq;
            vkr_op_rope(cmd, &(vkr_rope_args){
                .qkv = s->qkv, .cos_sin = c->cos_sin, .params = c->params, .q = s->q, .k_cache = c->k_cache[l],
                .v_cache = c->v_cache[l], .n_heads = NH, .n_kv_heads = NKV, .head_dim = D, .n_tokens = n,
                .row0 = row0, .seq = sq, .max_pos = (uint32_t)c->n_ctx, .ctx = (uint32_t)(c->n_seq * c->n_ctx)});
            vkr_op_attention(cmd, &(vkr_attention_args){
                .q = s->q, .k_cache = c->k_cache[l], .v_cache = c->v_cache[l], .params = c->params,
                .scratch = s->att_scratch, .out = s->attn, .n_heads = NH, .n_kv_heads = NKV, .head_dim = D,
                .n_tokens = n, .row0 = row0, .seq = sq, .window = (uint32_t)cfg->sliding_window,
                .n_split = (uint32_t)s->n_split});
        }
        vkr_op_matmul(cmd, &(vkr_matmul_args){
            .weight = L->o, .x = s->attn, .out = s->x, .n_out = H, .n_in = NH * D, .n_tokens = T, .accumulate = 1});
        /* feed-forward block */
        vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){
            .weight = L->ffn_norm, .x = s->x, .out = s->xn, .n = H, .n_tokens = T, .eps = eps});
        vkr_op_matmul(cmd, &(vkr_matmul_args){
            .weight = L->gate_up, .x = s->xn, .out = s->gate_up, .n_out = 2 * F, .n_in = H, .n_tokens = T});
        vkr_op_silu_mul(cmd, &(vkr_silu_mul_args){.gate_up = s->gate_up, .out = s->ff, .n_ff = F, .n_tokens = T});
        vkr_op_matmul(cmd, &(vkr_matmul_args){
            .weight = L->down, .x = s->ff, .out = s->x, .n_out = H, .n_in = F, .n_tokens = T, .accumulate = 1});
    }

    /* Only the last position's logits are needed to continue a sequence:
     * copy those rows out so the final norm and lm_head run on one token
     * per sequence. */
    vkr_buffer *xf = s->x;
    uint32_t rows = T;
    if (!logits_all && (n_seg > 1 || T > 1)) {
        for (int i = 0; i < n_seg; i++)
            vkr_cmd_copy(cmd, s->x, (uint64_t)(seg[i].row0 + seg[i].n - 1) * H * 4, c->last_x,
                         (uint64_t)i * H * 4, (uint64_t)H * 4);
        xf = c->last_x;
        rows = (uint32_t)n_seg;
    }
    /* logits = lm_head(rmsnorm(x)), next id = argmax */
    vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){
        .weight = m->out_norm, .x = xf, .out = s->xn, .n = H, .n_tokens = rows, .eps = eps});
    vkr_op_matmul(cmd, &(vkr_matmul_args){
        .weight = m->lm_head, .x = s->xn, .out = c->logits, .n_out = (uint32_t)cfg->vocab, .n_in = H,
        .n_tokens = rows});
    if (!logits_all)
        vkr_op_argmax(cmd, &(vkr_argmax_args){
            .logits = c->logits, .out = c->next_id, .n_vocab = (uint32_t)cfg->vocab, .n_tokens = rows});
}
