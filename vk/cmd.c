/* Command buffers: record once, submit many times; automatic barriers,
 * per-dispatch timestamps, and recordings cut into several queue
 * submissions so that no one submission runs long enough for a GPU watchdog
 * (vkr_cmd_boundary). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vkr_internal.h"

#define MAX_TRACKED 64
#define MAX_QUERIES 4096
#define MAX_SEGMENTS 80   /* submissions per recording: a layer each for 64 layers, and the rest */

struct vkr_cmd {
    vkr_ctx *ctx;
    char name[64];
    VkCommandBuffer cb;           /* the segment being recorded (segs[n_segs - 1]) */
    VkCommandBuffer segs[MAX_SEGMENTS];
    int n_segs, n_alloc;          /* segments of this recording; allocated so far */
    double seg_flops;             /* FLOPs recorded into the current segment */
    VkFence fence;
    VkQueryPool queries;
    int recording, pending, failed;
    int no_barriers;              /* test hook */
    int n_dispatch;
    uint32_t n_queries;
    vkr_op_time ops[MAX_QUERIES]; /* label and cost of the op ending at query i+1 (ms: at profile) */
    /* Buffers read / written since the last barrier of this recording. */
    VkBuffer reads[MAX_TRACKED], writes[MAX_TRACKED];
    int n_reads, n_writes;
};

vkr_cmd *vkr_cmd_create(vkr_ctx *ctx, const char *name) {
    vkr_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        vkr_set_error(ctx, "out of host memory");
        return NULL;
    }
    c->ctx = ctx;
    snprintf(c->name, sizeof c->name, "%s", name);
    VkFenceCreateInfo fi = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKR_TRY(ctx, vkCreateFence(ctx->device, &fi, NULL, &c->fence));
    if (ctx->profile) {
        VkQueryPoolCreateInfo qi = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qi.queryCount = MAX_QUERIES;
        VKR_TRY(ctx, vkCreateQueryPool(ctx->device, &qi, NULL, &c->queries));
    }
    return c;
fail:
    vkr_cmd_destroy(ctx, c);
    return NULL;
}

void vkr_cmd_destroy(vkr_ctx *ctx, vkr_cmd *c) {
    if (!c) return;
    if (c->pending) vkWaitForFences(ctx->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    if (c->queries) vkDestroyQueryPool(ctx->device, c->queries, NULL);
    if (c->fence) vkDestroyFence(ctx->device, c->fence, NULL);
    if (c->n_alloc) vkFreeCommandBuffers(ctx->device, ctx->pool, (uint32_t)c->n_alloc, c->segs);
    free(c);
}

/* One global memory barrier covers every hazard between compute dispatches
 * and transfers; on current drivers it costs the same as per-buffer ones. */
static void barrier(vkr_cmd *c) {
    c->n_reads = c->n_writes = 0;
    if (c->no_barriers) return;
    /* Reads: storage and texel buffers (SHADER_READ) and uniform buffers
     * (UNIFORM_READ: matvec takes x as one). */
    VkMemoryBarrier mb = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &mb, 0, NULL, 0, NULL);
}

void vkr_cmd_test_no_barriers(vkr_cmd *c, int on) { c->no_barriers = on; }

static int tracked(const VkBuffer *set, int n, VkBuffer b) {
    for (int i = 0; i < n; i++)
        if (set[i] == b) return 1;
    return 0;
}

/* Inserts a barrier if this command reads something written since the last
 * barrier (RAW), or writes something read or written since (WAR, WAW). */
static void hazard(vkr_cmd *c, const VkBuffer *rd, int nr, const VkBuffer *wr, int nw) {
    int need = 0;
    for (int i = 0; i < nr && !need; i++) need = tracked(c->writes, c->n_writes, rd[i]);
    for (int i = 0; i < nw && !need; i++)
        need = tracked(c->writes, c->n_writes, wr[i]) || tracked(c->reads, c->n_reads, wr[i]);
    if (need || c->n_reads + nr > MAX_TRACKED || c->n_writes + nw > MAX_TRACKED) barrier(c);
    for (int i = 0; i < nr; i++) c->reads[c->n_reads++] = rd[i];
    for (int i = 0; i < nw; i++) c->writes[c->n_writes++] = wr[i];
}

/* Starts segment c->n_segs (allocating its command buffer on first use). */
static int begin_segment(vkr_cmd *c) {
    vkr_ctx *ctx = c->ctx;
    if (c->n_segs == MAX_SEGMENTS) {
        vkr_set_error(ctx, "%s: more than %d submissions in one recording", c->name, MAX_SEGMENTS);
        return -1;
    }
    if (c->n_segs == c->n_alloc) {
        VkCommandBufferAllocateInfo ai = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = ctx->pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VKR_TRY(ctx, vkAllocateCommandBuffers(ctx->device, &ai, &c->segs[c->n_alloc]));
        vkr_object_name(ctx, VK_OBJECT_TYPE_COMMAND_BUFFER, (uint64_t)c->segs[c->n_alloc], c->name);
        c->n_alloc++;
    }
    c->cb = c->segs[c->n_segs++];
    VKR_TRY(ctx, vkResetCommandBuffer(c->cb, 0));
    VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VKR_TRY(ctx, vkBeginCommandBuffer(c->cb, &bi));
    c->seg_flops = 0;
    /* Earlier submissions (uploads, the previous step or segment) must be visible. */
    barrier(c);
    return 0;
fail:
    return -1;
}

int vkr_cmd_begin(vkr_cmd *c) {
    if (vkr_cmd_wait(c)) return -1;
    c->n_segs = 0;
    c->recording = 1;
    c->failed = 0;
    c->n_dispatch = 0;
    c->n_queries = 0;
    if (begin_segment(c)) {
        c->recording = 0;
        return -1;
    }
    if (c->queries) {
        vkCmdResetQueryPool(c->cb, c->queries, 0, MAX_QUERIES);
        vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->queries, c->n_queries++);
    }
    return 0;
}

void vkr_cmd_boundary(vkr_cmd *c) {
    vkr_ctx *ctx = c->ctx;
    double budget = ctx->dprof.submit_flops;
    if (!c->recording || c->failed || budget <= 0 || c->seg_flops < budget) return;
    barrier(c);
    VkResult r = vkEndCommandBuffer(c->cb);
    if (r != VK_SUCCESS) {
        vkr_set_vk_error(ctx, __FILE__, __LINE__, "vkEndCommandBuffer", r);
        c->failed = 1;
        return;
    }
    if (begin_segment(c)) c->failed = 1;
}

int vkr_cmd_submissions(const vkr_cmd *c) { return c->n_segs; }

static void timestamp(vkr_cmd *c, const char *label, double bytes, double flops) {
    if (!c->queries || c->n_queries >= MAX_QUERIES) return;
    c->ops[c->n_queries - 1] = (vkr_op_time){.label = label, .bytes = bytes, .flops = flops};
    vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries, c->n_queries++);
}

/* The part of b that binding i sees: *part with size 0 resolved to the end
 * of the buffer, checked against the buffer, the device's storage range and
 * offset alignment. Texel and uniform bindings take no part (whole buffer). */
static int part_check(vkr_cmd *c, const vkr_pipeline *p, int i, const vkr_buffer *b, int whole, vkr_range *part) {
    vkr_ctx *ctx = c->ctx;
    const char *why = NULL;
    if (whole) {
        if (part->offset || part->size) why = "a texel or uniform binding takes the whole buffer";
    } else {
        if (!part->size && part->offset < b->size) part->size = b->size - part->offset;
        if (part->offset >= b->size || part->size > b->size - part->offset) why = "past the end of the buffer";
        else if (ctx->info.storage_offset_align && part->offset % ctx->info.storage_offset_align)
            why = "offset not a multiple of minStorageBufferOffsetAlignment";
        else if (part->size > ctx->info.max_storage_buffer_range) why = "over maxStorageBufferRange";
    }
    if (!why) return 0;
    vkr_set_error(ctx, "%s: %s binding %d: %s (%llu bytes) bound at %llu + %llu bytes: %s (%llu; alignment %u) of %s",
                  c->name, p->desc.shader, i, b->name, (unsigned long long)b->size, (unsigned long long)part->offset,
                  (unsigned long long)part->size, why, (unsigned long long)ctx->info.max_storage_buffer_range,
                  ctx->info.storage_offset_align, ctx->info.name);
    c->failed = 1;
    return -1;
}

void vkr_cmd_dispatch(vkr_cmd *c, const vkr_dispatch *d) {
    vkr_ctx *ctx = c->ctx;
    if (!c->recording || c->failed) return;
    const vkr_pipeline *p = d->pipeline;
    if (!p) {
        char why[sizeof ctx->error];
        snprintf(why, sizeof why, "%s", ctx->error);
        vkr_set_error(ctx, "%s: dispatch %d (%s) has no pipeline: %s", c->name, c->n_dispatch,
                      d->label ? d->label : "?", why);
        c->failed = 1;
        return;
    }
    const char *kinds = p->desc.bindings;
    int nb = (int)strlen(kinds);
    VkWriteDescriptorSet w[VKR_MAX_BINDINGS];
    VkDescriptorBufferInfo bi[VKR_MAX_BINDINGS];
    VkBuffer rd[VKR_MAX_BINDINGS], wr[VKR_MAX_BINDINGS];
    int nr = 0, nw = 0;
    for (int i = 0; i < nb; i++) {
        vkr_buffer *b = d->bind[i];
        int texel = kinds[i] == 't' || kinds[i] == 'T';
        w[i] = (VkWriteDescriptorSet){VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        w[i].dstBinding = (uint32_t)i;
        w[i].descriptorCount = 1;
        w[i].descriptorType = vkr_binding_type(kinds[i]);
        if (kinds[i] == 'x' || kinds[i] == 'X') { /* a device buffer read through its texel view */
            if (!b || b->kind != VKR_BUF_DEVICE || !b->view) {
                vkr_set_error(ctx, "%s: %s binding %d: expected a device buffer with a texel view (size a multiple "
                              "of 16), got %s", c->name, p->desc.shader, i, b ? b->name : "none");
                c->failed = 1;
                return;
            }
            vkr_range part = d->range[i];
            if (part_check(c, p, i, b, 1, &part)) return; /* a texel view is the whole buffer */
            w[i].pTexelBufferView = &b->view;
            rd[nr++] = b->buffer;
            continue;
        }
        /* 't'/'T': a weight; 'r': a weight or a device buffer; 'w'/'u': not a weight. */
        int weight = b && b->kind == VKR_BUF_WEIGHT;
        if (!b || (texel && !weight) || (weight && kinds[i] != 'r' && !texel)) {
            vkr_set_error(ctx, "%s: %s binding %d: expected %s buffer, got %s", c->name, p->desc.shader, i,
                          texel ? "a weight" : "a storage", b ? b->name : "none");
            c->failed = 1;
            return;
        }
        vkr_range part = d->range[i];
        if (part_check(c, p, i, b, texel || kinds[i] == 'u', &part)) return;
        if (texel) {
            w[i].pTexelBufferView = &b->view;
        } else {
            uint64_t range = kinds[i] != 'u'                        ? part.size
                             : b->size < ctx->info.max_uniform_range ? b->size
                                                                     : ctx->info.max_uniform_range;
            bi[i] = (VkDescriptorBufferInfo){b->buffer, part.offset, range};
            w[i].pBufferInfo = &bi[i];
        }
        if (kinds[i] == 'w') wr[nw++] = b->buffer;
        else if (!weight) rd[nr++] = b->buffer;
    }
    hazard(c, rd, nr, wr, nw);
    vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdPushDescriptorSetKHR(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, (uint32_t)nb, w);
    if (p->desc.push_size)
        vkCmdPushConstants(c->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->desc.push_size, d->push);
    uint32_t gx = d->groups[0] ? d->groups[0] : 1;
    if (ctx->plant[0] && !p->desc.portable && vkr_planted(ctx, p->desc.shader))
        gx = (gx + 1) / 2; /* test hook: a wrong kernel */
    vkCmdDispatch(c->cb, gx, d->groups[1] ? d->groups[1] : 1, d->groups[2] ? d->groups[2] : 1);
    c->n_dispatch++;
    c->seg_flops += d->flops;
    timestamp(c, d->label ? d->label : p->desc.shader, d->bytes, d->flops);
}

void vkr_cmd_fail(vkr_cmd *c, const char *op, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vkr_set_error(c->ctx, "%s: %s", op, msg);
    vkr_cmd_dispatch(c, &(vkr_dispatch){.pipeline = NULL, .label = op});
}

void vkr_cmd_copy(vkr_cmd *c, vkr_buffer *src, uint64_t src_off, vkr_buffer *dst, uint64_t dst_off, uint64_t size) {
    if (!c->recording || c->failed) return;
    hazard(c, &src->buffer, 1, &dst->buffer, 1);
    VkBufferCopy region = {src_off, dst_off, size};
    vkCmdCopyBuffer(c->cb, src->buffer, dst->buffer, 1, &region);
    timestamp(c, "copy", 0, 0);
}

int vkr_cmd_end(vkr_cmd *c) {
    vkr_ctx *ctx = c->ctx;
    if (!c->recording) {
        vkr_set_error(ctx, "%s: end without begin", c->name);
        return -1;
    }
    barrier(c); /* results visible to host reads and to the next submission */
    c->recording = 0;
    VKR_TRY(ctx, vkEndCommandBuffer(c->cb));
    return c->failed ? -1 : 0;
fail:
    return -1;
}

/* Each segment is its own queue submission, queued back to back: a GPU's
 * watchdog times one submission, and the queue runs them in order (each
 * segment starts with a barrier, so the previous one's writes are seen).
 * Only the last carries the fence. */
int vkr_cmd_submit(vkr_cmd *c) {
    vkr_ctx *ctx = c->ctx;
    if (ctx->lost) return vkr_device_failed(ctx, c->name, VK_ERROR_DEVICE_LOST);
    if (c->recording || c->failed) {
        vkr_set_error(ctx, "%s: submit of a recording that %s", c->name, c->failed ? "failed" : "was not ended");
        return -1;
    }
    if (vkr_cmd_wait(c)) return -1;
    for (int i = 0; i < c->n_segs; i++) {
        VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &c->segs[i];
        VkResult r = vkr_fault(ctx);
        if (r == VK_SUCCESS) r = vkQueueSubmit(ctx->queue, 1, &si, i == c->n_segs - 1 ? c->fence : VK_NULL_HANDLE);
        if (r != VK_SUCCESS) return vkr_device_failed(ctx, c->name, r);
    }
    c->pending = 1;
    return 0;
}

int vkr_cmd_wait(vkr_cmd *c) {
    vkr_ctx *ctx = c->ctx;
    if (!c->pending) return 0;
    c->pending = 0;
    VkResult r = vkWaitForFences(ctx->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS) r = vkResetFences(ctx->device, 1, &c->fence);
    return r == VK_SUCCESS ? 0 : vkr_device_failed(ctx, c->name, r);
}

int vkr_cmd_run(vkr_cmd *c) { return vkr_cmd_submit(c) || vkr_cmd_wait(c) ? -1 : 0; }

int vkr_cmd_dispatch_count(const vkr_cmd *c) { return c->n_dispatch; }
vkr_ctx *vkr_cmd_ctx(const vkr_cmd *c) { return c->ctx; }

int vkr_cmd_profile(vkr_cmd *c, vkr_op_time *out, int cap) {
    vkr_ctx *ctx = c->ctx;
    if (!c->queries) {
        vkr_set_error(ctx, "%s: profiling is off (vkr_ctx_opts.profile) or the device has no timestamps", c->name);
        return -1;
    }
    if (vkr_cmd_wait(c)) return -1;
    uint32_t n = c->n_queries;
    if (n < 2) return 0;
    uint64_t *ts = malloc(n * sizeof *ts);
    if (!ts) return -1;
    VkResult r = vkGetQueryPoolResults(ctx->device, c->queries, 0, n, n * sizeof *ts, ts, sizeof *ts,
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) {
        free(ts);
        vkr_set_vk_error(ctx, __FILE__, __LINE__, "vkGetQueryPoolResults", r);
        return -1;
    }
    int k = 0;
    for (uint32_t i = 1; i < n && k < cap; i++, k++) {
        out[k] = c->ops[i - 1];
        out[k].ms = (double)(ts[i] - ts[i - 1]) * ctx->info.timestamp_period * 1e-6;
    }
    free(ts);
    return k;
}
