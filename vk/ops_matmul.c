/* RMSNorm and the matrix kernels: matvec for decode; for prefill, matmul
 * (register-blocked, CPU devices) and matmul_tiled (shared memory, GPUs). */
#include <stdint.h>

#include "shaders/common.h"
#include "vk/ops_internal.h"

_Static_assert(sizeof(struct pc_rmsnorm) == 16, "pc_rmsnorm layout");
_Static_assert(sizeof(struct pc_matmul) == 16, "pc_matmul layout");

/* Tokens up to which the matrix x vector kernel beats the matrix x matrix
 * one: it streams the weights once per 4 tokens, so it wins while T is
 * small. On CPU devices the register-blocked kernel (8-token tiles) takes
 * over from 5 tokens (lavapipe, 4 layers at full width: pp4 23-26 t/s by
 * matvec vs 19-21, pp6 20-21 vs 28-30, pp8 27-28 vs 37-41); GPUs keep matvec
 * up to 8 (its coalesced row reads against 64-token tiles; not measured). */
#define MATVEC_MAX_TOKENS_CPU 4u
#define MATVEC_MAX_TOKENS_GPU 8u

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* What a matrix op costs, for profiles: weight bytes (padded rows) and FLOPs. */
static double w_bytes(const vkr_matmul_args *a, const struct pc_matmul *pc) { return 2.0 * a->n_out * pc->ld; }
static double flops(const vkr_matmul_args *a) { return 2.0 * a->n_out * a->n_in * a->n_tokens; }

void vkr_op_rmsnorm(vkr_cmd *cmd, const vkr_rmsnorm_args *a) {
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    /* One row per workgroup. CPU drivers run a workgroup on one thread, so a
     * single subgroup there avoids the shared-memory step entirely. */
    uint32_t wg = d->is_cpu ? d->subgroup_size : 256;
    if (wg > d->max_workgroup_invocations) wg = d->max_workgroup_invocations;
    struct pc_rmsnorm pc = {.n = a->n, .ld_out = vkr_ld(a->n), .rows = a->n_tokens, .eps = a->eps};
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "rmsnorm", .bindings = "Trw", .push_size = sizeof pc, .spec = {wg}, .n_spec = 1});
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
    /* One token (decode): weights through imageLoad too (matvec_one.comp). */
    const char *shader = "matvec", *bindings = "trw";
    if (ubo) shader = nt == 1 ? "matvec_one" : "matvec_ubo", bindings = nt == 1 ? "Tuw" : "tuw";
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = shader, .bindings = bindings, .push_size = sizeof *pc,
        .spec = {sg * nsg, rows, nt, len, rows * nsg}, .n_spec = 5, .subgroup_size = sg});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = pc,
        .groups = {ceil_div(a->n_out, rows * nsg)}, .label = "matvec", .bytes = w_bytes(a, pc), .flops = flops(a)});
}

/* Prefill on CPU devices: register-blocked, no shared memory. */
static void matmul_register(vkr_cmd *cmd, const vkr_matmul_args *a, const struct pc_matmul *pc) {
    const uint32_t wg = 64, tm = 4, tn = 8;
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "matmul", .bindings = "TXw", .push_size = sizeof *pc, .spec = {wg, tm, tn}, .n_spec = 3});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = pc,
        .groups = {ceil_div(a->n_out, tm * wg), ceil_div(a->n_tokens, tn)}, .label = "matmul",
        .bytes = w_bytes(a, pc), .flops = flops(a)});
}

/* Shared memory of matmul_tiled.comp: fp32 tiles of BK x (BM + 1) and BK x (BN + 1). */
static uint64_t tiled_shared_bytes(const vkr_matmul_tune *t) {
    return (uint64_t)t->bk * (t->bm + 1 + t->bn + 1) * 4;
}

/* Prefill on GPUs: shared-memory tiles. */
static void matmul_tiled(vkr_cmd *cmd, const vkr_matmul_args *a, const struct pc_matmul *pc,
                         const vkr_matmul_tune *t) {
    const vkr_device_info *d = vkr_ctx_device(vkr_cmd_ctx(cmd));
    int ok = t->bm && t->bn && t->bk && t->tm && t->tn && t->bm % t->tm == 0 && t->bn % t->tn == 0 && t->bk % 8 == 0;
    uint32_t wg = ok ? (t->bm / t->tm) * (t->bn / t->tn) : 0;
    if (!ok || wg > d->max_workgroup_invocations || tiled_shared_bytes(t) > d->shared_memory) {
        vkr_op_fail(cmd, "matmul",
                    "tiles BM %u x BN %u x BK %u, TM %u x TN %u: expected BM %% TM = BN %% TN = BK %% 8 = 0, at most %u "
                    "invocations and %u bytes of shared memory (needs %llu)",
                    t->bm, t->bn, t->bk, t->tm, t->tn, d->max_workgroup_invocations, d->shared_memory,
                    (unsigned long long)tiled_shared_bytes(t));
        return;
    }
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = "matmul_tiled", .bindings = "TXw", .push_size = sizeof *pc,
        .spec = {wg, t->bm, t->bn, t->bk, t->tm, t->tn}, .n_spec = 6});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = pc,
        .groups = {ceil_div(a->n_out, t->bm), ceil_div(a->n_tokens, t->bn)},
        .label = "matmul", .bytes = w_bytes(a, pc), .flops = flops(a)}); /* the same op as matmul.comp in profiles */
}

/* Up to MATVEC_MAX_TOKENS_CPU / _GPU tokens: matvec. Beyond, two prefill kernels:
 * - GPUs: matmul_tiled. A warp of matmul.comp reads 4 different weight rows
 *   per invocation (uncoalesced) and re-reads W once per 8 tokens; the tiled
 *   kernel loads each 64 x 32 block of W and x once, with consecutive lanes
 *   on consecutive texels, and reuses it 64 times from shared memory.
 *   256 invocations of 4 x 4 outputs; 16.6 KB of shared memory, so several
 *   workgroups fit per multiprocessor. Devices with fewer invocations or less
 *   shared memory get smaller tiles.
 * - CPU devices (lavapipe, SwiftShader): matmul.comp. They run a workgroup's
 *   invocations as SIMD loops on one thread, so shared memory buys no reuse
 *   that registers and the CPU caches don't already give, and every barrier
 *   suspends and resumes each loop: the register-blocked kernel is faster. */
vkr_matmul_tune vkr_matmul_tune_for(const vkr_device_info *d, const vkr_matmul_args *a) {
    if (a->n_tokens <= (d->is_cpu ? MATVEC_MAX_TOKENS_CPU : MATVEC_MAX_TOKENS_GPU))
        return (vkr_matmul_tune){.kernel = VKR_MATMUL_MATVEC};
    if (d->is_cpu) return (vkr_matmul_tune){.kernel = VKR_MATMUL_REGISTER};
    vkr_matmul_tune t = {.kernel = VKR_MATMUL_TILED, .bm = 64, .bn = 64, .bk = 32, .tm = 4, .tn = 4};
    if (d->max_workgroup_invocations < 256) t.bm = 32; /* Vulkan guarantees 128 */
    while (t.bk > 8 && tiled_shared_bytes(&t) > d->shared_memory) t.bk /= 2;
    return t;
}

static int matmul_check(vkr_cmd *cmd, const vkr_matmul_args *a) {
    const char *op = "matmul";
    uint64_t ld = vkr_ld(a->n_in);
    if (!a->n_out || !a->n_in || !a->n_tokens) {
        vkr_op_fail(cmd, op, "n_out %u, n_in %u and n_tokens %u must be > 0", a->n_out, a->n_in, a->n_tokens);
        return -1;
    }
    if (vkr_op_need(cmd, op, "weight", a->weight, a->n_out * ld * 2) ||
        vkr_op_need(cmd, op, "x", a->x, a->n_tokens * ld * 2) ||
        vkr_op_need(cmd, op, "out", a->out, (uint64_t)a->n_tokens * a->n_out * 4))
        return -1;
    return 0;
}

void vkr_op_matmul_tuned(vkr_cmd *cmd, const vkr_matmul_args *a, const vkr_matmul_tune *t) {
    if (matmul_check(cmd, a)) return;
    struct pc_matmul pc = {
        .n_out = a->n_out, .ld = vkr_ld(a->n_in), .n_tokens = a->n_tokens, .accumulate = a->accumulate ? 1u : 0u};
    switch (t->kernel) {
    case VKR_MATMUL_MATVEC: matvec(cmd, a, &pc); break;
    case VKR_MATMUL_REGISTER: matmul_register(cmd, a, &pc); break;
    case VKR_MATMUL_TILED: matmul_tiled(cmd, a, &pc, t); break;
    default: vkr_op_fail(cmd, "matmul", "unknown kernel %d", (int)t->kernel);
    }
}

void vkr_op_matmul(vkr_cmd *cmd, const vkr_matmul_args *a) {
    vkr_matmul_tune t = vkr_matmul_tune_for(vkr_ctx_device(vkr_cmd_ctx(cmd)), a);
    vkr_op_matmul_tuned(cmd, a, &t);
}
