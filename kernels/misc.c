/* Embedding gather, SiLU(gate) * up, argmax; argument checks shared by the ops. */
#include <stdint.h>

#include "formats/gguf.h"
#include "kernels/shaders/common.h"
#include "kernels/kernels_internal.h"

_Static_assert(sizeof(struct pc_embed) == 16, "pc_embed layout");
_Static_assert(sizeof(struct pc_silu_mul) == 16, "pc_silu_mul layout");
_Static_assert(sizeof(struct pc_argmax) == 16, "pc_argmax layout");

#define ELEMWISE_WG 64u

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

int kern_need(vkr_cmd *cmd, const char *op, const char *what, const vkr_buffer *buf, uint64_t need) {
    if (buf && vkr_buffer_size(buf) >= need) return 0;
    if (!buf) vkr_cmd_fail(cmd, op, "%s buffer missing (needs %llu bytes)", what, (unsigned long long)need);
    else
        vkr_cmd_fail(cmd, op, "%s buffer %s has %llu bytes, needs %llu", what, vkr_buffer_name(buf),
                    (unsigned long long)vkr_buffer_size(buf), (unsigned long long)need);
    return -1;
}

uint64_t kern_part_rows(vkr_cmd *cmd, const char *op, const vkr_buffer *w, uint64_t row_bytes, uint64_t n_rows) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    uint64_t range = vkr_ctx_device(ctx)->max_storage_buffer_range;
    if (!vkr_ctx_profile(ctx)->storage_loads || vkr_buffer_size(w) <= range) return n_rows;
    uint64_t rows = range / row_bytes / 256 * 256;
    if (!rows)
        vkr_cmd_fail(cmd, op, "weight %s: 256 rows of %llu bytes exceed maxStorageBufferRange %llu of %s",
                     vkr_buffer_name(w), (unsigned long long)row_bytes, (unsigned long long)range,
                     vkr_ctx_device(ctx)->name);
    return rows < n_rows ? rows : n_rows;
}

/* Token ids are not checked here (they live on the device): the caller
 * validates ids < vocab before uploading them; shaders/embed.comp writes NaN
 * rows for ids past the end of the weight instead of reading out of bounds. */
void kern_embed(vkr_cmd *cmd, const kern_embed_args *a) {
    const char *op = "embed";
    uint32_t ld = kern_ld(a->dim);
    if (!a->dim || !a->n_tokens) {
        vkr_cmd_fail(cmd, op, "dim %u and n_tokens %u must be > 0", a->dim, a->n_tokens);
        return;
    }
    uint32_t dt = a->weight ? kern_weight_dtype(a->weight) : FMT_GGML_F16;
    uint64_t row = kern_weight_row_bytes(dt, a->dim);
    const vkr_tensor_desc *t = a->weight ? vkr_buffer_tensor(a->weight) : NULL;
    if (!row || (t && t->cols != a->dim)) {
        vkr_cmd_fail(cmd, op, "weight %s: %u columns of %s, asked for %u", vkr_buffer_name(a->weight), t ? t->cols : a->dim,
                     fmt_ggml_type_name(dt), a->dim);
        return;
    }
    if (kern_need(cmd, op, "weight", a->weight, row) ||
        kern_need(cmd, op, "ids", a->ids, (uint64_t)a->n_tokens * 4) ||
        kern_need(cmd, op, "out", a->out, (uint64_t)a->n_tokens * a->dim * 4))
        return;
    /* Profiles with storage-buffer loads bind the table a range of rows at
     * a time when it is larger than one storage binding (Phi-3's fp16
     * table is 188 MiB; lavapipe's range is 128 MiB). */
    vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    uint64_t size = vkr_buffer_size(a->weight);
    int sb = vkr_ctx_profile(ctx)->storage_loads;
    uint64_t step = kern_part_rows(cmd, op, a->weight, row, size / row);
    if (!step) return;
    vkr_pipeline_desc pd = {.shader = sb ? "embed_sb" : "embed", .bindings = sb ? "rrw" : "trw",
                            .push_size = sizeof(struct pc_embed), .spec = {ELEMWISE_WG}, .n_spec = 1};
    if (dt != FMT_GGML_F16) pd.spec[10] = dt, pd.n_spec = 11; /* WTYPE, shaders/wtype.glsl */
    vkr_pipeline *p = vkr_pipeline_get(ctx, &pd);
    for (uint64_t r0 = 0; r0 * row < size; r0 += step) {
        struct pc_embed pc = {.dim = a->dim, .ld_w = ld, .n_tokens = a->n_tokens, .row0 = (uint32_t)r0};
        uint64_t bytes = size - r0 * row < step * row ? size - r0 * row : step * row;
        vkr_range part = step * row < size ? (vkr_range){r0 * row, bytes} : (vkr_range){0, 0};
        vkr_cmd_dispatch(cmd, &(vkr_dispatch){
            .pipeline = p, .bind = {a->weight, a->ids, a->out}, .range = {part}, .push = &pc,
            .groups = {ceil_div(ld / 8, ELEMWISE_WG), a->n_tokens}, .label = op});
    }
}

void kern_silu_mul(vkr_cmd *cmd, const kern_silu_mul_args *a) {
    const char *op = "silu_mul";
    uint32_t ld = kern_ld(a->n_ff);
    if (!a->n_ff || !a->n_tokens) {
        vkr_cmd_fail(cmd, op, "n_ff %u and n_tokens %u must be > 0", a->n_ff, a->n_tokens);
        return;
    }
    if (kern_need(cmd, op, "gate_up", a->gate_up, (uint64_t)a->n_tokens * a->n_ff * 8) ||
        kern_need(cmd, op, "out", a->out, (uint64_t)a->n_tokens * ld * 2))
        return;
    struct pc_silu_mul pc = {.n_ff = a->n_ff, .ld_out = ld, .n_tokens = a->n_tokens};
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "silu_mul", .bindings = "rw", .push_size = sizeof pc, .spec = {ELEMWISE_WG}, .n_spec = 1});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->gate_up, a->out}, .push = &pc,
        .groups = {ceil_div(ld / 2, ELEMWISE_WG), a->n_tokens}, .label = op});
}

/* out[t] = 0xFFFFFFFF when row t holds only NaN. */
void kern_argmax_wg(vkr_cmd *cmd, const kern_argmax_args *a, uint32_t wg) {
    const char *op = "argmax";
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    if (!a->n_vocab || !a->n_tokens) {
        vkr_cmd_fail(cmd, op, "n_vocab %u and n_tokens %u must be > 0", a->n_vocab, a->n_tokens);
        return;
    }
    if (!wg || wg > d->max_workgroup_invocations) {
        vkr_cmd_fail(cmd, op, "workgroup of %u invocations: expected 1 .. %u", wg, d->max_workgroup_invocations);
        return;
    }
    if (kern_need(cmd, op, "logits", a->logits, (uint64_t)a->n_tokens * a->n_vocab * 4) ||
        kern_need(cmd, op, "out", a->out, (uint64_t)a->n_tokens * 4))
        return;
    struct pc_argmax pc = {.n_vocab = a->n_vocab, .n_tokens = a->n_tokens};
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "argmax", .bindings = "rw", .push_size = sizeof pc, .spec = {wg}, .n_spec = 1,
        .portable = wg == 1 && (vkr_ctx_profile(vkr_cmd_ctx(cmd))->fallbacks & VKR_KERNEL_ARGMAX)});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->logits, a->out}, .push = &pc, .groups = {a->n_tokens}, .label = op});
}

void kern_argmax(vkr_cmd *cmd, const kern_argmax_args *a) {
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    /* One workgroup per token. CPU drivers: a single subgroup, so the shared
     * memory step (and its barrier) never runs; GPUs: 256 lanes stream the
     * 128 KB row. */
    const vkr_device_profile *pr = vkr_ctx_profile(vkr_cmd_ctx(cmd));
    uint32_t wg = pr->fallbacks & VKR_KERNEL_ARGMAX ? 1 : pr->argmax_wg; /* portable: one invocation per row */
    if (wg > d->max_workgroup_invocations) wg = d->max_workgroup_invocations;
    kern_argmax_wg(cmd, a, wg);
}
