/* Device memory, buffers, and the staging ring for uploads and readback. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vkr_internal.h"

#define MIB (1024.0 * 1024.0)

int vkr_memory_type(const vkr_ctx *ctx, uint32_t type_bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < ctx->memprops.memoryTypeCount; i++)
        if ((type_bits & (1u << i)) && (ctx->memprops.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

int vkr_memory_alloc(vkr_ctx *ctx, const char *name, uint64_t size, uint32_t type_bits, VkMemoryPropertyFlags want,
                     VkMemoryPropertyFlags fallback, VkDeviceMemory *out, void **map) {
    int type = vkr_memory_type(ctx, type_bits, want);
    if (type < 0) type = vkr_memory_type(ctx, type_bits, fallback);
    if (type < 0) {
        vkr_set_error(ctx, "%s: no memory type with flags 0x%x on %s", name, (unsigned)fallback, ctx->info.name);
        return -1;
    }
    uint32_t heap = ctx->memprops.memoryTypes[type].heapIndex;
    uint64_t heap_size = ctx->memprops.memoryHeaps[heap].size;
    if (size > ctx->info.max_alloc_size) {
        vkr_set_error(ctx, "%s: one allocation of %.1f MiB exceeds maxMemoryAllocationSize %.1f MiB of %s", name,
                      size / MIB, ctx->info.max_alloc_size / MIB, ctx->info.name);
        return -1;
    }
    VkMemoryAllocateInfo ai = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = size;
    ai.memoryTypeIndex = (uint32_t)type;
    VkResult r = vkAllocateMemory(ctx->device, &ai, NULL, out);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        vkr_set_error(ctx, "out of device memory: %s needs %.1f MiB, heap %u has %.1f MiB (%.1f MiB already "
                           "allocated by phi3vk) [%s]",
                      name, size / MIB, heap, heap_size / MIB, ctx->allocated / MIB, vkr_result_name(r));
        return -1;
    }
    if (r != VK_SUCCESS) {
        vkr_set_vk_error(ctx, __FILE__, __LINE__, "vkAllocateMemory", r);
        return -1;
    }
    ctx->allocated += size;
    *map = NULL;
    if (ctx->memprops.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        r = vkMapMemory(ctx->device, *out, 0, VK_WHOLE_SIZE, 0, map);
        if (r != VK_SUCCESS) {
            vkFreeMemory(ctx->device, *out, NULL);
            ctx->allocated -= size;
            vkr_set_vk_error(ctx, __FILE__, __LINE__, "vkMapMemory", r);
            return -1;
        }
    }
    return 0;
}

/* Weights are sub-allocated from large blocks: a model has ~130 tensors and
 * some drivers limit the number of allocations (maxMemoryAllocationCount). */
static int weight_block(vkr_ctx *ctx, const char *name, uint64_t size, uint64_t align, uint32_t type_bits,
                        uint64_t *offset) {
    for (int i = 0; i < ctx->n_blocks; i++) {
        uint64_t off = (ctx->blocks[i].used + align - 1) / align * align;
        if (off + size <= ctx->blocks[i].size) {
            ctx->blocks[i].used = off + size;
            *offset = off;
            return i;
        }
    }
    if (ctx->n_blocks == ctx->cap_blocks) {
        int cap = ctx->cap_blocks ? 2 * ctx->cap_blocks : 8;
        vkr_block *b = realloc(ctx->blocks, (size_t)cap * sizeof *b);
        if (!b) {
            vkr_set_error(ctx, "out of host memory");
            return -1;
        }
        ctx->blocks = b;
        ctx->cap_blocks = cap;
    }
    uint64_t bsize = ctx->info.max_alloc_size < (1ull << 30) ? ctx->info.max_alloc_size : (1ull << 30);
    /* what is still expected, with room for each tensor's alignment */
    uint64_t want = ctx->weights_expected + (1ull << 20);
    if (ctx->weights_expected && want < bsize) bsize = want;
    if (size > bsize) bsize = size;
    vkr_block *b = &ctx->blocks[ctx->n_blocks];
    memset(b, 0, sizeof *b);
    if (vkr_memory_alloc(ctx, name, bsize, type_bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, &b->mem, &b->map))
        return -1;
#ifdef MADV_HUGEPAGE
    /* Host-visible weight memory (CPU drivers, unified memory) is written
     * once, page by page: 2 MiB pages cut the page faults of a 7 GB upload
     * 512-fold where the kernel allows them. Advice only: errors ignored. */
    if (b->map) {
        uintptr_t lo = ((uintptr_t)b->map + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
        uintptr_t hi = ((uintptr_t)b->map + bsize) & ~(uintptr_t)((2u << 20) - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    b->size = bsize;
    b->used = size;
    *offset = 0;
    return ctx->n_blocks++;
}

static int zero_fill(vkr_ctx *ctx, vkr_buffer *buf);

vkr_buffer *vkr_buffer_create(vkr_ctx *ctx, const char *name, uint64_t size, vkr_buffer_kind kind) {
    vkr_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        vkr_set_error(ctx, "out of host memory");
        return NULL;
    }
    snprintf(b->name, sizeof b->name, "%s", name);
    b->kind = kind;
    b->size = size;
    b->block = -1;
    if (size == 0) {
        vkr_set_error(ctx, "buffer %s: size 0", name);
        goto fail;
    }
    if (kind != VKR_BUF_WEIGHT && size > ctx->info.max_storage_buffer_range) {
        vkr_set_error(ctx, "buffer %s: %.1f MiB exceeds maxStorageBufferRange %.1f MiB of %s", name, size / MIB,
                      ctx->info.max_storage_buffer_range / MIB, ctx->info.name);
        goto fail;
    }
    if (kind == VKR_BUF_WEIGHT && (size % 16 || size / 16 > ctx->info.max_texel_elements)) {
        vkr_set_error(ctx, "weight %s: %llu bytes must be a multiple of 16 and at most %u texels", name,
                      (unsigned long long)size, ctx->info.max_texel_elements);
        goto fail;
    }
    VkBufferCreateInfo bi = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    /* Texel views serve both 't'/'x' (uniform) and 'T'/'X' (storage) bindings;
     * weights are also bound as storage buffers ('r') by GPU profiles. */
    const VkBufferUsageFlags texel = VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT | texel |
               VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | (kind == VKR_BUF_WEIGHT ? 0 : VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT);
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VKR_TRY(ctx, vkCreateBuffer(ctx->device, &bi, NULL, &b->buffer));
    vkr_object_name(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)b->buffer, name);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);

    if (kind == VKR_BUF_WEIGHT) {
        uint64_t off = 0;
        b->block = weight_block(ctx, name, req.size, req.alignment, req.memoryTypeBits, &off);
        if (b->block < 0) goto fail;
        ctx->weights_expected -= ctx->weights_expected < req.size ? ctx->weights_expected : req.size;
        b->block_offset = off;
        vkr_block *blk = &ctx->blocks[b->block];
        VKR_TRY(ctx, vkBindBufferMemory(ctx->device, b->buffer, blk->mem, off));
        if (blk->map) b->map = (uint8_t *)blk->map + off;
        VkBufferViewCreateInfo vi = {VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
        vi.buffer = b->buffer;
        vi.format = VK_FORMAT_R32G32B32A32_UINT;
        vi.offset = 0;
        vi.range = size;
        VKR_TRY(ctx, vkCreateBufferView(ctx->device, &vi, NULL, &b->view));
        vkr_object_name(ctx, VK_OBJECT_TYPE_BUFFER_VIEW, (uint64_t)b->view, name);
    } else {
        VkMemoryPropertyFlags want, fallback;
        if (kind == VKR_BUF_HOST) {
            want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                   VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
            fallback = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        } else {
            want = fallback = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        }
        if (vkr_memory_alloc(ctx, name, req.size, req.memoryTypeBits, want, fallback, &b->own_mem, &b->map))
            goto fail;
        b->alloc_size = req.size;
        VKR_TRY(ctx, vkBindBufferMemory(ctx->device, b->buffer, b->own_mem, 0));
        if (zero_fill(ctx, b)) goto fail;
        /* Device buffers also get a texel view ('x' bindings): CPU drivers
         * load texels far faster than storage buffers (the KV cache). */
        if (kind == VKR_BUF_DEVICE && size % 16 == 0 && size / 16 <= ctx->info.max_texel_elements) {
            VkBufferViewCreateInfo vi = {VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
            vi.buffer = b->buffer;
            vi.format = VK_FORMAT_R32G32B32A32_UINT;
            vi.range = size;
            VKR_TRY(ctx, vkCreateBufferView(ctx->device, &vi, NULL, &b->view));
            vkr_object_name(ctx, VK_OBJECT_TYPE_BUFFER_VIEW, (uint64_t)b->view, name);
        }
    }
    return b;
fail:
    vkr_buffer_destroy(ctx, b);
    return NULL;
}

void vkr_buffer_destroy(vkr_ctx *ctx, vkr_buffer *b) {
    if (!b) return;
    if (b->view) vkDestroyBufferView(ctx->device, b->view, NULL);
    if (b->buffer) vkDestroyBuffer(ctx->device, b->buffer, NULL);
    if (b->own_mem) {
        vkFreeMemory(ctx->device, b->own_mem, NULL);
        ctx->allocated -= b->alloc_size;
    }
    /* Weight space stays in its block until the context is destroyed. */
    free(b);
}

void vkr_weights_expect(vkr_ctx *ctx, uint64_t bytes) { ctx->weights_expected = bytes; }

vkr_buffer *vkr_tensor_create(vkr_ctx *ctx, const char *name, const vkr_tensor_desc *t) {
    if (!t->rows || !t->cols || !t->row_bytes || t->row_bytes % 16 || t->rows > UINT64_MAX / t->row_bytes) {
        vkr_set_error(ctx, "weight %s: [%u, %u] of %llu bytes per row (expected a non-zero shape and a multiple of 16)",
                      name, t->rows, t->cols, (unsigned long long)t->row_bytes);
        return NULL;
    }
    vkr_buffer *b = vkr_buffer_create(ctx, name, (uint64_t)t->rows * t->row_bytes, VKR_BUF_WEIGHT);
    if (b) {
        b->is_tensor = 1;
        b->tensor = *t;
    }
    return b;
}

const vkr_tensor_desc *vkr_buffer_tensor(const vkr_buffer *b) { return b && b->is_tensor ? &b->tensor : NULL; }

uint64_t vkr_buffer_size(const vkr_buffer *b) { return b->size; }
const char *vkr_buffer_name(const vkr_buffer *b) { return b->name; }
void *vkr_buffer_map(const vkr_buffer *b) { return b->map; }

/* ---- staging ring ----------------------------------------------------- */

int vkr_staging_init(vkr_ctx *ctx) {
    ctx->staging_size = 16ull << 20;
    if (ctx->staging_size > ctx->info.max_storage_buffer_range) ctx->staging_size = ctx->info.max_storage_buffer_range;
    VkCommandBuffer cmds[VKR_STAGING_SLOTS];
    VkCommandBufferAllocateInfo ai = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = ctx->pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = VKR_STAGING_SLOTS;
    VKR_TRY(ctx, vkAllocateCommandBuffers(ctx->device, &ai, cmds));
    for (int i = 0; i < VKR_STAGING_SLOTS; i++) {
        vkr_staging_slot *s = &ctx->staging[i];
        s->cmd = cmds[i];
        VkBufferCreateInfo bi = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bi.size = ctx->staging_size;
        bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        VKR_TRY(ctx, vkCreateBuffer(ctx->device, &bi, NULL, &s->buffer));
        vkr_object_name(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)s->buffer, "staging");
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(ctx->device, s->buffer, &req);
        void *map = NULL;
        if (vkr_memory_alloc(ctx, "staging", req.size, req.memoryTypeBits,
                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                 VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, &s->mem, &map))
            return -1;
        s->map = map;
        VKR_TRY(ctx, vkBindBufferMemory(ctx->device, s->buffer, s->mem, 0));
        VkFenceCreateInfo fi = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VKR_TRY(ctx, vkCreateFence(ctx->device, &fi, NULL, &s->fence));
    }
    return 0;
fail:
    return -1;
}

void vkr_staging_free(vkr_ctx *ctx) {
    for (int i = 0; i < VKR_STAGING_SLOTS; i++) {
        vkr_staging_slot *s = &ctx->staging[i];
        if (s->fence) vkDestroyFence(ctx->device, s->fence, NULL);
        if (s->buffer) vkDestroyBuffer(ctx->device, s->buffer, NULL);
        if (s->mem) vkFreeMemory(ctx->device, s->mem, NULL);
        if (s->cmd) vkFreeCommandBuffers(ctx->device, ctx->pool, 1, &s->cmd);
    }
}

uint64_t vkr_staging_chunk(const vkr_ctx *ctx) { return ctx->staging_size; }

static int slot_wait(vkr_ctx *ctx, vkr_staging_slot *s) {
    if (!s->pending) return 0;
    s->pending = 0;
    VkResult r = vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS) r = vkResetFences(ctx->device, 1, &s->fence);
    return r == VK_SUCCESS ? 0 : vkr_device_failed(ctx, "a buffer copy", r);
}

static int slot_begin(vkr_ctx *ctx, vkr_staging_slot *s) {
    if (s->recording) return 0;
    if (slot_wait(ctx, s)) return -1;
    VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKR_TRY(ctx, vkBeginCommandBuffer(s->cmd, &bi));
    s->recording = 1;
    s->used = 0;
    return 0;
fail:
    return -1;
}

static int slot_submit(vkr_ctx *ctx, vkr_staging_slot *s) {
    if (!s->recording) return 0;
    s->recording = 0;
    VKR_TRY(ctx, vkEndCommandBuffer(s->cmd));
    VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &s->cmd;
    VkResult r = ctx->lost ? VK_ERROR_DEVICE_LOST : VK_SUCCESS;
    if (r == VK_SUCCESS) r = vkQueueSubmit(ctx->queue, 1, &si, s->fence);
    if (r != VK_SUCCESS) return vkr_device_failed(ctx, "a buffer copy", r);
    s->pending = 1;
    return 0;
fail:
    return -1;
}

void *vkr_staging_reserve(vkr_ctx *ctx, vkr_buffer *dst, uint64_t dst_offset, uint64_t size) {
    if (size > ctx->staging_size || dst_offset + size > dst->size) {
        vkr_set_error(ctx, "staging: %llu bytes at %llu do not fit %s (%llu bytes) or the %llu-byte chunk",
                      (unsigned long long)size, (unsigned long long)dst_offset, dst->name,
                      (unsigned long long)dst->size, (unsigned long long)ctx->staging_size);
        return NULL;
    }
    if (dst->map) return (uint8_t *)dst->map + dst_offset; /* unified memory: write in place */
    vkr_staging_slot *s = &ctx->staging[ctx->staging_cur];
    if (s->recording && s->used + size > ctx->staging_size) {
        if (slot_submit(ctx, s)) return NULL;
        ctx->staging_cur = (ctx->staging_cur + 1) % VKR_STAGING_SLOTS;
        s = &ctx->staging[ctx->staging_cur];
    }
    if (slot_begin(ctx, s)) return NULL;
    VkBufferCopy region = {s->used, dst_offset, size};
    vkCmdCopyBuffer(s->cmd, s->buffer, dst->buffer, 1, &region);
    void *p = s->map + s->used;
    s->used += (size + 15) & ~15ull;
    return p;
}

int vkr_staging_flush(vkr_ctx *ctx) {
    if (slot_submit(ctx, &ctx->staging[ctx->staging_cur])) return -1;
    for (int i = 0; i < VKR_STAGING_SLOTS; i++)
        if (slot_wait(ctx, &ctx->staging[i])) return -1;
    ctx->staging_cur = 0;
    return 0;
}

int vkr_buffer_write(vkr_ctx *ctx, vkr_buffer *buf, uint64_t offset, const void *src, uint64_t size) {
    const uint8_t *p = src;
    while (size) {
        uint64_t n = size < ctx->staging_size ? size : ctx->staging_size;
        void *dst = vkr_staging_reserve(ctx, buf, offset, n);
        if (!dst) return -1;
        memcpy(dst, p, n);
        p += n;
        offset += n;
        size -= n;
    }
    return vkr_staging_flush(ctx);
}

int vkr_buffer_read(vkr_ctx *ctx, vkr_buffer *buf, uint64_t offset, void *dst, uint64_t size) {
    if (offset + size > buf->size) {
        vkr_set_error(ctx, "read of %llu bytes at %llu is outside %s (%llu bytes)", (unsigned long long)size,
                      (unsigned long long)offset, buf->name, (unsigned long long)buf->size);
        return -1;
    }
    if (buf->map) {
        memcpy(dst, (uint8_t *)buf->map + offset, size);
        return 0;
    }
    if (vkr_staging_flush(ctx)) return -1;
    vkr_staging_slot *s = &ctx->staging[0];
    uint8_t *out = dst;
    while (size) {
        uint64_t n = size < ctx->staging_size ? size : ctx->staging_size;
        if (slot_begin(ctx, s)) return -1;
        VkBufferCopy region = {offset, 0, n};
        vkCmdCopyBuffer(s->cmd, buf->buffer, s->buffer, 1, &region);
        if (slot_submit(ctx, s) || slot_wait(ctx, s)) return -1;
        memcpy(out, s->map, n);
        out += n;
        offset += n;
        size -= n;
    }
    return 0;
}

static int zero_fill(vkr_ctx *ctx, vkr_buffer *buf) {
    if (buf->map) {
        memset(buf->map, 0, buf->size);
        return 0;
    }
    vkr_staging_slot *s = &ctx->staging[ctx->staging_cur];
    if (slot_begin(ctx, s)) return -1;
    vkCmdFillBuffer(s->cmd, buf->buffer, 0, VK_WHOLE_SIZE, 0);
    return vkr_staging_flush(ctx);
}
