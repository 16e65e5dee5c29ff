/* RMSNorm and the two matrix kernels (matvec for decode, matmul for prefill). */
#include <stdint.h>

#include "shaders/common.h"
#include "vk/ops.h"

_Static_assert(sizeof(struct pc_rmsnorm) == 16, "pc_rmsnorm layout");
_Static_assert(sizeof(struct pc_matmul) == 16, "pc_matmul layout");

/* Tokens up to which the matrix x vector kernel beats the tiled one: it
 * streams the weights once per NT tokens, so it wins while T is small. */
#define MATVEC_MAX_TOKENS 8u

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

void vkr_op_rmsnorm(vkr_cmd *cmd, const vkr_rmsnorm_args *a) {
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    /* One row per workgroup. CPU drivers run a workgroup on one thread, so a
     * single subgroup there avoids the shared-memory step entirely. */
    uint32_t wg = d->is_cpu ? d->subgroup_size : 256;
    if (wg > d->max_workgroup_invocations) wg = d->max_workgroup_invocations;
    if (wg / d->subgroup_size > 32) wg = 32 * d->subgroup_size;
    struct pc_rmsnorm pc = {.n = a->n, .ld_out = vkr_ld(a->n), .rows = a->n_tokens, .eps = a->eps};
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "rmsnorm", .bindings = "trw", .push_size = sizeof pc, .spec = {wg}, .n_spec = 1});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = &pc, .groups = {a->n_tokens}, .label = "rmsnorm"});
}

static void matvec(vkr_cmd *cmd, const vkr_matmul_args *a, const struct pc_matmul *pc) {
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    uint32_t sg = d->subgroup_size;
    /* CPU: 8 rows per 8-lane subgroup measured best on lavapipe; GPUs: 256
     * invocations, 2 rows per subgroup keeps enough workgroups in flight. */
    uint32_t rows = d->is_cpu ? 8 : 2;
    uint32_t nsg = d->is_cpu ? 4 : (256 / sg ? 256 / sg : 1);
    uint32_t nt = a->n_tokens < 4 ? a->n_tokens : 4;
    /* x in a uniform buffer when it fits: lavapipe loads uniforms far faster
     * than storage buffers. The array length is a constant, so round it up to
     * a power of two to keep the number of pipeline variants small. */
    uint32_t texels = a->n_tokens * pc->ld / 8, len = 256;
    while (len < texels) len *= 2;
    int ubo = (uint64_t)len * 16 <= d->max_uniform_range;
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = ubo ? "matvec_ubo" : "matvec", .bindings = ubo ? "tuw" : "trw", .push_size = sizeof *pc,
        .spec = {sg * nsg, rows, nt, len}, .n_spec = ubo ? 4 : 3, .subgroup_size = sg});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = pc,
        .groups = {ceil_div(a->n_out, rows * nsg)}, .label = "matvec"});
}

static void matmul(vkr_cmd *cmd, const vkr_matmul_args *a, const struct pc_matmul *pc) {
    const uint32_t wg = 64, tm = 4, tn = 8;
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "matmul", .bindings = "TXw", .push_size = sizeof *pc, .spec = {wg, tm, tn}, .n_spec = 3});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = pc,
        .groups = {ceil_div(a->n_out, tm * wg), ceil_div(a->n_tokens, tn)}, .label = "matmul"});
}

void vkr_op_matmul(vkr_cmd *cmd, const vkr_matmul_args *a) {
    struct pc_matmul pc = {
        .n_out = a->n_out, .ld = vkr_ld(a->n_in), .n_tokens = a->n_tokens, .accumulate = a->accumulate ? 1u : 0u};
    if (a->n_tokens <= MATVEC_MAX_TOKENS) matvec(cmd, a, &pc);
    else matmul(cmd, a, &pc);
}
