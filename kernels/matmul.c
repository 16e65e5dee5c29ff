/* RMSNorm and the matrix kernels: matvec for decode; for prefill, matmul
 * (register-blocked, CPU devices) and matmul_tiled (shared memory, GPUs). */
#include <stdint.h>

#include "formats/gguf.h"
#include "kernels/shaders/common.h"
#include "kernels/kernels_internal.h"

_Static_assert(sizeof(struct pc_rmsnorm) == 16, "pc_rmsnorm layout");
_Static_assert(sizeof(struct pc_matmul) == 20, "pc_matmul layout");
_Static_assert(PHI3_WT_F16 == FMT_GGML_F16 && PHI3_WT_Q4_0 == FMT_GGML_Q4_0 && PHI3_WT_Q8_0 == FMT_GGML_Q8_0 &&
                   PHI3_WT_Q4_K == FMT_GGML_Q4_K && PHI3_WT_Q5_K == FMT_GGML_Q5_K && PHI3_WT_Q6_K == FMT_GGML_Q6_K,
               "shader weight dtypes are ggml type ids");

#define SPEC_WTYPE 10 /* constant_id of WTYPE in shaders/wtype.glsl */

static uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* The part of a matrix op that one dispatch does. A weight larger than one
 * storage binding (maxStorageBufferRange: 128 MiB on lavapipe and some GPUs,
 * less than Phi-3's 188 MiB fp16 lm_head) is bound a range of rows at a
 * time: w the bytes of those rows, y from their first column on (pc.ld_y
 * keeps y's row stride). Both zero: the whole buffers. */
typedef struct mm_part {
    vkr_range w, y;
} mm_part;

/* Weight bytes one dispatch binds. */
static uint64_t part_bytes(const kern_matmul_args *a, const mm_part *pt) {
    return pt->w.size ? pt->w.size : vkr_buffer_size(a->weight);
}

/* What a matrix op costs, for profiles: weight bytes (device rows) and FLOPs. */
static double w_bytes(const kern_matmul_args *a) {
    return (double)a->n_out * (double)kern_weight_row_bytes(kern_weight_dtype(a->weight), a->n_in);
}

/* Sets the weight dtype constant of a block-type weight (fp16 pipelines keep
 * their constants as they were). */
static void spec_dtype(vkr_pipeline_desc *d, const kern_matmul_args *a) {
    uint32_t dt = kern_weight_dtype(a->weight);
    if (dt == FMT_GGML_F16) return;
    d->spec[SPEC_WTYPE] = dt;
    d->n_spec = SPEC_WTYPE + 1;
}
static double flops(const kern_matmul_args *a) { return 2.0 * a->n_out * a->n_in * a->n_tokens; }

void kern_rmsnorm(vkr_cmd *cmd, const kern_rmsnorm_args *a) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    if (a->weight && kern_weight_dtype(a->weight) != FMT_GGML_F16) {
        vkr_cmd_fail(cmd, "rmsnorm", "weight %s is %s (norm weights are fp16)", vkr_buffer_name(a->weight),
                     fmt_ggml_type_name(kern_weight_dtype(a->weight)));
        return;
    }
    /* One row per workgroup (a single subgroup on CPU drivers, which run a
     * workgroup on one thread: the shared-memory step is skipped there). */
    const vkr_device_profile *pr = vkr_ctx_profile(ctx);
    uint32_t wg = pr->fallbacks & VKR_KERNEL_RMSNORM ? 1 : pr->rmsnorm_wg; /* portable: one invocation per row */
    if (wg > vkr_ctx_device(ctx)->max_workgroup_invocations) wg = vkr_ctx_device(ctx)->max_workgroup_invocations;
    struct pc_rmsnorm pc = {.n = a->n, .ld_out = kern_ld(a->n), .rows = a->n_tokens, .eps = a->eps};
    int sb = pr->storage_loads && vkr_buffer_size(a->weight) <= vkr_ctx_device(ctx)->max_storage_buffer_range;
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &(vkr_pipeline_desc){
        .shader = sb ? "rmsnorm_sb" : "rmsnorm", .bindings = sb ? "rrw" : "Trw", .push_size = sizeof pc,
        .spec = {wg}, .n_spec = 1,
        .portable = !!(pr->fallbacks & VKR_KERNEL_RMSNORM)});
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .push = &pc, .groups = {a->n_tokens}, .label = "rmsnorm"});
}

/* Whole subgroups of the widest size the device may run: wg rounded up. */
static uint32_t whole_subgroups(const vkr_device_info *d, uint32_t wg) {
    uint32_t widest = d->max_subgroup_size > d->subgroup_size ? d->max_subgroup_size : d->subgroup_size;
    return widest ? (wg + widest - 1) / widest * widest : wg;
}

static void matvec(vkr_cmd *cmd, const kern_matmul_args *a, const struct pc_matmul *pc, const mm_part *pt) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    const vkr_device_info *d = vkr_ctx_device(ctx);
    const vkr_device_profile *pr = vkr_ctx_profile(ctx);
    /* The workgroup owns rows * subgroups rows, planned for the profile's
     * subgroup size; the shader spreads them over the subgroups it gets. */
    uint32_t rows = pr->matvec_rows, wg_rows = rows * pr->matvec_subgroups;
    uint32_t wg = whole_subgroups(d, pr->subgroup * pr->matvec_subgroups);
    if (wg > d->max_workgroup_invocations) wg = d->max_workgroup_invocations;
    uint32_t nt = a->n_tokens < 4 ? a->n_tokens : 4;
    uint64_t w_size = part_bytes(a, pt), x_bytes = (uint64_t)a->n_tokens * pc->ld * 2;
    const char *shader, *bindings;
    uint32_t len = 256;
    int q = kern_weight_dtype(a->weight) != FMT_GGML_F16; /* block types: matvec_q*.comp */
    if (pr->storage_loads && w_size <= d->max_storage_buffer_range) {
        shader = q ? "matvec_q_sb" : "matvec_sb", bindings = "rrw"; /* GPUs: 16-byte storage-buffer loads */
    } else {
        /* x in a uniform buffer when it fits: lavapipe loads uniforms far
         * faster than storage buffers. The array length is a constant, so
         * round it up to a power of two to keep pipeline variants few. One
         * token (decode): weights through imageLoad too (matvec_one.comp). */
        while ((uint64_t)len * 16 < x_bytes) len *= 2;
        int ubo = (uint64_t)len * 16 <= d->max_uniform_range;
        int image = nt == 1 && !pr->storage_loads; /* imageLoad: README, "Driver quirks" */
        shader = !ubo ? (q ? "matvec_q" : "matvec") : image ? (q ? "matvec_q_one" : "matvec_one")
                                                             : (q ? "matvec_q_ubo" : "matvec_ubo");
        bindings = !ubo ? "trw" : image ? "Tuw" : "tuw";
    }
    vkr_pipeline_desc pd = {
        .shader = shader, .bindings = bindings, .push_size = sizeof *pc,
        .spec = {wg, rows, nt, len, wg_rows, pr->exact_subgroup && wg == pr->subgroup * pr->matvec_subgroups},
        .n_spec = 6, .subgroup_size = pr->subgroup, .full_subgroups = 1};
    spec_dtype(&pd, a);
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &pd);
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .range = {pt->w, {0, 0}, pt->y}, .push = pc,
        .groups = {ceil_div(a->n_out, wg_rows)}, .label = "matvec", .bytes = w_bytes(a), .flops = flops(a)});
}

/* Prefill on CPU devices: register-blocked, no shared memory. Storage-buffer
 * loads where the profile asks for them and the tensors fit. */
static void matmul_register(vkr_cmd *cmd, const kern_matmul_args *a, const struct pc_matmul *pc, const mm_part *pt) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    const uint32_t wg = 64, tm = 4, tn = 8;
    uint64_t range = vkr_ctx_device(ctx)->max_storage_buffer_range;
    int sb = vkr_ctx_profile(ctx)->storage_loads && part_bytes(a, pt) <= range && vkr_buffer_size(a->x) <= range;
    vkr_pipeline_desc pd = {
        .shader = sb ? "matmul_sb" : "matmul", .bindings = sb ? "rrw" : "TXw", .push_size = sizeof *pc,
        .spec = {wg, tm, tn}, .n_spec = 3};
    spec_dtype(&pd, a);
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &pd);
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .range = {pt->w, {0, 0}, pt->y}, .push = pc,
        .groups = {ceil_div(a->n_out, tm * wg), ceil_div(a->n_tokens, tn)}, .label = "matmul",
        .bytes = w_bytes(a), .flops = flops(a)});
}

/* Shared memory of matmul_tiled.comp: fp32 tiles of BK x (BM + 1) and BK x (BN + 1). */
static uint64_t tiled_shared_bytes(const kern_matmul_tune *t) {
    return (uint64_t)t->bk * (t->bm + 1 + t->bn + 1) * 4;
}

/* Prefill on GPUs: shared-memory tiles. */
static void matmul_tiled(vkr_cmd *cmd, const kern_matmul_args *a, const struct pc_matmul *pc,
                         const kern_matmul_tune *t, const mm_part *pt) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    const vkr_device_info *d = vkr_ctx_device(ctx);
    int ok = t->bm && t->bn && t->bk && t->tm && t->tn && t->bm % t->tm == 0 && t->bn % t->tn == 0 && t->bk % 8 == 0;
    uint32_t wg = ok ? (t->bm / t->tm) * (t->bn / t->tn) : 0;
    if (!ok || wg > d->max_workgroup_invocations || tiled_shared_bytes(t) > d->shared_memory) {
        vkr_cmd_fail(cmd, "matmul",
                    "tiles BM %u x BN %u x BK %u, TM %u x TN %u: expected BM %% TM = BN %% TN = BK %% 8 = 0, at most %u "
                    "invocations and %u bytes of shared memory (needs %llu)",
                    t->bm, t->bn, t->bk, t->tm, t->tn, d->max_workgroup_invocations, d->shared_memory,
                    (unsigned long long)tiled_shared_bytes(t));
        return;
    }
    int sb = vkr_ctx_profile(ctx)->storage_loads && part_bytes(a, pt) <= d->max_storage_buffer_range &&
             vkr_buffer_size(a->x) <= d->max_storage_buffer_range;
    vkr_pipeline_desc pd = {
        .shader = sb ? "matmul_tiled_sb" : "matmul_tiled", .bindings = sb ? "rrw" : "txw", .push_size = sizeof *pc,
        .spec = {wg, t->bm, t->bn, t->bk, t->tm, t->tn}, .n_spec = 6};
    spec_dtype(&pd, a);
    vkr_pipeline *p = vkr_pipeline_get(vkr_cmd_ctx(cmd), &pd);
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){
        .pipeline = p, .bind = {a->weight, a->x, a->out}, .range = {pt->w, {0, 0}, pt->y}, .push = pc,
        .groups = {ceil_div(a->n_out, t->bm), ceil_div(a->n_tokens, t->bn)},
        .label = "matmul", .bytes = w_bytes(a), .flops = flops(a)}); /* the same op as matmul.comp in profiles */
}

/* Up to the profile's matvec_max_tokens: matvec (it streams the weights once
 * per 4 tokens, so it wins while T is small; the crossover on lavapipe is
 * in bench/RESULTS.md).
 * Beyond, two prefill kernels:
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
kern_matmul_tune kern_matmul_tune_for(const vkr_device_profile *p, const vkr_device_info *d,
                                    const kern_matmul_args *a) {
    /* The portable variant of both: the register-blocked kernel (no subgroup
     * operations, no shared memory), right for any token count. */
    if (a->n_tokens <= p->matvec_max_tokens)
        return (kern_matmul_tune){.kernel = p->fallbacks & VKR_KERNEL_MATVEC ? KERN_MATMUL_REGISTER : KERN_MATMUL_MATVEC};
    if (!p->tiled_prefill || (p->fallbacks & VKR_KERNEL_PREFILL)) return (kern_matmul_tune){.kernel = KERN_MATMUL_REGISTER};
    kern_matmul_tune t = {.kernel = KERN_MATMUL_TILED, .bm = 64, .bn = 64, .bk = 32, .tm = 4, .tn = 4};
    if (d->max_workgroup_invocations < 256) t.bm = 32; /* Vulkan guarantees 128 */
    while (t.bk > 8 && tiled_shared_bytes(&t) > d->shared_memory) t.bk /= 2;
    return t;
}

static int matmul_check(vkr_cmd *cmd, const kern_matmul_args *a) {
    const char *op = "matmul";
    uint64_t ld = kern_ld(a->n_in);
    if (!a->n_out || !a->n_in || !a->n_tokens) {
        vkr_cmd_fail(cmd, op, "n_out %u, n_in %u and n_tokens %u must be > 0", a->n_out, a->n_in, a->n_tokens);
        return -1;
    }
    const vkr_tensor_desc *t = a->weight ? vkr_buffer_tensor(a->weight) : NULL;
    if (t && (t->rows != a->n_out || t->cols != a->n_in)) {
        vkr_cmd_fail(cmd, op, "weight %s is [%u, %u] %s, the op asks for [%u, %u]", vkr_buffer_name(a->weight), t->rows,
                     t->cols, fmt_ggml_type_name(t->dtype), a->n_out, a->n_in);
        return -1;
    }
    uint32_t dt = a->weight ? kern_weight_dtype(a->weight) : FMT_GGML_F16;
    uint64_t row = kern_weight_row_bytes(dt, a->n_in);
    if (!row) {
        vkr_cmd_fail(cmd, op, "weight %s: %u columns are not a whole number of %s blocks", vkr_buffer_name(a->weight),
                     a->n_in, fmt_ggml_type_name(dt));
        return -1;
    }
    if (kern_need(cmd, op, "weight", a->weight, a->n_out * row) ||
        kern_need(cmd, op, "x", a->x, a->n_tokens * ld * 2) ||
        kern_need(cmd, op, "out", a->out, (uint64_t)a->n_tokens * a->n_out * 4))
        return -1;
    return 0;
}

void kern_matmul_tuned(vkr_cmd *cmd, const kern_matmul_args *a, const kern_matmul_tune *t) {
    if (matmul_check(cmd, a)) return;
    if (t->kernel != KERN_MATMUL_MATVEC && t->kernel != KERN_MATMUL_REGISTER && t->kernel != KERN_MATMUL_TILED) {
        vkr_cmd_fail(cmd, "matmul", "unknown kernel %d", (int)t->kernel);
        return;
    }
    uint64_t row = kern_weight_row_bytes(kern_weight_dtype(a->weight), a->n_in);
    uint32_t step = (uint32_t)kern_part_rows(cmd, "matmul", a->weight, row, a->n_out);
    for (uint32_t r0 = 0; step && r0 < a->n_out; r0 += step) {
        kern_matmul_args part = *a;
        part.n_out = a->n_out - r0 < step ? a->n_out - r0 : step;
        mm_part pt = {{0, 0}, {0, 0}};
        if (step < a->n_out) pt = (mm_part){{r0 * row, part.n_out * row}, {(uint64_t)r0 * 4, 0}};
        struct pc_matmul pc = {.n_out = part.n_out, .ld = kern_ld(a->n_in), .n_tokens = a->n_tokens,
                               .accumulate = a->accumulate ? 1u : 0u, .ld_y = a->n_out};
        switch (t->kernel) {
        case KERN_MATMUL_MATVEC: matvec(cmd, &part, &pc, &pt); break;
        case KERN_MATMUL_REGISTER: matmul_register(cmd, &part, &pc, &pt); break;
        default: matmul_tiled(cmd, &part, &pc, t, &pt); break;
        }
    }
}

void kern_matmul(vkr_cmd *cmd, const kern_matmul_args *a) {
    const vkr_ctx *ctx = vkr_cmd_ctx(cmd);
    kern_matmul_tune t = kern_matmul_tune_for(vkr_ctx_profile(ctx), vkr_ctx_device(ctx), a);
    kern_matmul_tuned(cmd, a, &t);
}
