/* RoPE with the KV cache write, and attention over the KV cache. */
#include <math.h>
#include <stdint.h>

#include "kernels/shaders/common.h"
#include "kernels/kernels_internal.h"

_Static_assert(sizeof(struct pc_rope) == 32, "pc_rope layout");
_Static_assert(sizeof(struct pc_attention) == 48, "pc_attention layout");
_Static_assert(sizeof(struct step_params) == 16, "step_params layout");

#define ROPE_WG 64u
#define MERGE_WG 64u
#define MAX_HEAD_DIM 256u /* q and the accumulator live in registers: 2 x head_dim / L floats per lane */

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }
static int pow2(uint32_t x) { return x && !(x & (x - 1)); }

void kern_rope_table(float *out, uint32_t max_pos, uint32_t head_dim, double theta, const float *divisors,
                    double mscale) {
    uint32_t half = head_dim / 2;
    for (uint32_t i = 0; i < half; i++) {
        /* inv_freq_i = theta^(-2i/head_dim), divided by LongRoPE's factor. */
        double f = pow(theta, -2.0 * i / head_dim) / (divisors ? (double)divisors[i] : 1.0);
        for (uint32_t p = 0; p < max_pos; p++) {
            double a = (double)p * f;
            out[((uint64_t)p * half + i) * 2 + 0] = (float)(cos(a) * mscale);
            out[((uint64_t)p * half + i) * 2 + 1] = (float)(sin(a) * mscale);
        }
    }
}

void kern_rope(vkr_cmd *cmd, const kern_rope_args *a) {
    const char *op = "rope";
    uint32_t heads = a->n_heads + 2 * a->n_kv_heads;
    uint64_t hd = a->head_dim, kv_row = (uint64_t)a->n_kv_heads * hd * 2;
    if (!a->n_heads || !a->n_kv_heads || !a->n_tokens || !hd || hd % 4) {
        vkr_cmd_fail(cmd, op, "n_heads %u, n_kv_heads %u, n_tokens %u must be > 0 and head_dim %u a multiple of 4",
                    a->n_heads, a->n_kv_heads, a->n_tokens, a->head_dim);
        return;
    }
    uint64_t rows = (uint64_t)a->row0 + a->n_tokens;
    if (kern_need(cmd, op, "qkv", a->qkv, rows * heads * hd * 4) ||
        kern_need(cmd, op, "cos_sin", a->cos_sin, (uint64_t)a->max_pos * hd * 4) ||
        kern_need(cmd, op, "params", a->params, (a->seq + 1ull) * sizeof(struct step_params)) ||
        kern_need(cmd, op, "q", a->q, rows * a->n_heads * hd * 4) ||
        kern_need(cmd, op, "k_cache", a->k_cache, a->ctx * kv_row) ||
        kern_need(cmd, op, "v_cache", a->v_cache, a->ctx * kv_row))
        return;
    struct pc_rope pc = {.n_heads = a->n_heads, .n_kv_heads = a->n_kv_heads, .head_dim = a->head_dim,
                         .n_tokens = a->n_tokens, .max_pos = a->max_pos, .ctx = a->ctx, .row0 = a->row0,
                         .seq = a->seq};
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "rope", .bindings = "rrrwww", .push_size = sizeof pc, .spec = {ROPE_WG}, .n_spec = 1});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->qkv, a->cos_sin, a->params, a->q, a->k_cache, a->v_cache}, .push = &pc,
        .groups = {ceil_div(heads * a->head_dim / 4, ROPE_WG), a->n_tokens}, .label = op});
}

uint64_t kern_attention_scratch_bytes(uint32_t n_heads, uint32_t head_dim, uint32_t n_tokens, uint32_t n_split) {
    /* Per (token, head, split): head_dim fp16 outputs, then 16 bytes (m, l). */
    return n_split > 1 ? (uint64_t)n_tokens * n_heads * n_split * (head_dim * 2 + 16) : 0;
}

/* The subgroup width every subgroup of a pipeline is guaranteed to have. */
static uint32_t sure_subgroup(const vkr_device_info *d, uint32_t required) {
    if (required && d->subgroup_size_control && required >= d->min_subgroup_size && required <= d->max_subgroup_size)
        return required;
    return d->subgroup_size_control && d->min_subgroup_size ? d->min_subgroup_size : d->subgroup_size;
}

kern_attn_tune kern_attention_tune(const vkr_device_profile *p, const vkr_device_info *d, const kern_attention_args *a) {
    uint32_t rows = a->n_tokens * (a->n_kv_heads ? a->n_heads / a->n_kv_heads : 1);
    /* Portable: one lane per query row, no lane shares anything. */
    if (p->fallbacks & VKR_KERNEL_ATTENTION) return (kern_attn_tune){.lanes_per_key = 1, .key_slots = 1, .rows = 1};
    if (p->cpu) {
        /* lavapipe runs a subgroup as one SIMD loop: no shuffles in the key
         * loop (L = 1). Many rows: the lanes are rows reading the same key,
         * 8 keys per step (q and the output accumulators live on the stack
         * there; one pass over them per 8 keys measured fastest: bench/RESULTS.md);
         * few: the lanes are keys (blocks did not help). */
        uint32_t sg = p->subgroup;
        if (rows >= sg) return (kern_attn_tune){.lanes_per_key = 1, .key_slots = 1, .rows = sg, .key_block = 8};
        return (kern_attn_tune){.lanes_per_key = 1, .key_slots = sg, .rows = 1, .key_block = 1};
    }
    /* GPUs: L lanes x 16 bytes per key row segment, KS keys per subgroup;
     * pin the subgroup to L x KS where the device lets us (wave64 AMD, Intel). */
    uint32_t r = p->attn_lanes_per_key * p->attn_key_slots;
    uint32_t want = d->subgroup_size_control && d->min_subgroup_size <= r && d->max_subgroup_size >= r ? r : 0;
    return (kern_attn_tune){.lanes_per_key = p->attn_lanes_per_key, .key_slots = p->attn_key_slots,
                           .rows = rows >= p->attn_rows ? p->attn_rows : rows, .subgroup = want};
}

static int attention_check(vkr_cmd *cmd, const kern_attention_args *a) {
    const char *op = "attention";
    uint64_t hd = a->head_dim;
    if (!a->n_heads || !a->n_kv_heads || a->n_heads % a->n_kv_heads || !a->n_tokens || !a->n_split ||
        !hd || hd % 8 || hd > MAX_HEAD_DIM) {
        vkr_cmd_fail(cmd, op,
                    "n_heads %u must be a multiple of n_kv_heads %u, n_tokens %u and n_split %u > 0, head_dim %u a "
                    "multiple of 8 up to %u",
                    a->n_heads, a->n_kv_heads, a->n_tokens, a->n_split, a->head_dim, MAX_HEAD_DIM);
        return -1;
    }
    uint64_t kv_row = (uint64_t)a->n_kv_heads * hd * 2;
    uint64_t rows = (uint64_t)a->row0 + a->n_tokens;
    if (kern_need(cmd, op, "q", a->q, rows * a->n_heads * hd * 4) ||
        kern_need(cmd, op, "k_cache", a->k_cache, kv_row) || kern_need(cmd, op, "v_cache", a->v_cache, kv_row) ||
        kern_need(cmd, op, "params", a->params, (a->seq + 1ull) * sizeof(struct step_params)) ||
        kern_need(cmd, op, "out", a->out, rows * kern_ld(a->n_heads * a->head_dim) * 2))
        return -1;
    if (vkr_buffer_size(a->k_cache) % kv_row || vkr_buffer_size(a->v_cache) != vkr_buffer_size(a->k_cache)) {
        vkr_cmd_fail(cmd, op, "k_cache %s (%llu bytes) and v_cache %s (%llu bytes) must be equal whole rows of %llu",
                    vkr_buffer_name(a->k_cache), (unsigned long long)vkr_buffer_size(a->k_cache),
                    vkr_buffer_name(a->v_cache), (unsigned long long)vkr_buffer_size(a->v_cache),
                    (unsigned long long)kv_row);
        return -1;
    }
    if (a->n_split > 1 &&
        kern_need(cmd, op, "scratch", a->scratch,
                    kern_attention_scratch_bytes(a->n_heads, a->head_dim, a->n_tokens, a->n_split)))
        return -1;
    return 0;
}

void kern_attention_tuned(vkr_cmd *cmd, const kern_attention_args *a, const kern_attn_tune *tn) {
    vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    const vkr_device_info *d = vkr_ctx_device(ctx);
    if (attention_check(cmd, a)) return;
    if (!(d->subgroup_ops & VKR_SUBGROUP_SHUFFLE)) {
        vkr_cmd_fail(cmd, "attention", "needs subgroup shuffles in compute shaders, which %s lacks", d->name);
        return;
    }
    /* The kernel lays rows out by whole subgroups, so the workgroup holds
     * whole subgroups of the widest size the device may run; lanes past the
     * planned rows idle. It needs the L lanes of a key in one subgroup. */
    uint32_t r = tn->lanes_per_key * tn->key_slots, sg = sure_subgroup(d, tn->subgroup);
    uint32_t widest = d->max_subgroup_size > d->subgroup_size ? d->max_subgroup_size : d->subgroup_size;
    uint32_t wg = r * tn->rows;
    if (widest) wg = (wg + widest - 1) / widest * widest;
    if (!pow2(tn->lanes_per_key) || !pow2(r) || tn->lanes_per_key > sg || !tn->rows ||
        wg > d->max_workgroup_invocations || tn->key_block > 16) {
        vkr_cmd_fail(cmd, "attention",
                    "layout L %u x KS %u x rows %u, %u keys per step: expected L and L x KS powers of two, L <= the "
                    "subgroup size %u, at most %u invocations (got %u) and 16 keys per step",
                    tn->lanes_per_key, tn->key_slots, tn->rows, tn->key_block, sg, d->max_workgroup_invocations, wg);
        return;
    }
    struct pc_attention pc = {
        .n_heads = a->n_heads, .n_kv_heads = a->n_kv_heads, .head_dim = a->head_dim, .n_tokens = a->n_tokens,
        .window = a->window, .n_split = a->n_split, .ld_out = kern_ld(a->n_heads * a->head_dim),
        .scale = (float)(1.0 / sqrt((double)a->head_dim)), .row0 = a->row0, .seq = a->seq};
    uint32_t rows = a->n_tokens * (a->n_heads / a->n_kv_heads);
    int sb = vkr_ctx_profile(ctx)->storage_loads && vkr_buffer_size(a->k_cache) <= d->max_storage_buffer_range;
    vkr_pipeline *p = vkr_pipeline_get(ctx, &(vkr_pipeline_desc){
        .shader = sb ? "attention_sb" : "attention", .bindings = sb ? "rrrrw" : "rXXrw", .push_size = sizeof pc,
        .spec = {wg, a->head_dim, tn->lanes_per_key, tn->key_slots, tn->key_block ? tn->key_block : 1, tn->rows},
        .n_spec = 6,
        .subgroup_size = tn->subgroup, .full_subgroups = 1,
        .portable = !!(vkr_ctx_profile(ctx)->fallbacks & VKR_KERNEL_ATTENTION)});
    vkr_buffer *dst = a->n_split > 1 ? a->scratch : a->out;
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->q, a->k_cache, a->v_cache, a->params, dst}, .push = &pc,
        .groups = {ceil_div(rows, tn->rows), a->n_kv_heads, a->n_split}, .label = "attention"});
    if (a->n_split == 1) return;
    p = vkr_pipeline_get(ctx, &(vkr_pipeline_desc){
        .shader = "attn_merge", .bindings = "rw", .push_size = sizeof pc, .spec = {MERGE_WG}, .n_spec = 1});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->scratch, a->out}, .push = &pc,
        .groups = {ceil_div(a->n_tokens * a->n_heads * (a->head_dim / 8), MERGE_WG)}, .label = "attn_merge"});
}

void kern_attention(vkr_cmd *cmd, const kern_attention_args *a) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    kern_attn_tune tn = kern_attention_tune(vkr_ctx_profile(ctx), vkr_ctx_device(ctx), a);
    kern_attention_tuned(cmd, a, &tn);
}
