/* Error reporting of the runtime: Vulkan result names, the context's last
 * error, device failures at run time, and the test hooks that fake them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vk/vkr_internal.h"

const char *vkr_result_name(VkResult r) {
    switch (r) {
#define N(x) case x: return #x;
    N(VK_SUCCESS) N(VK_NOT_READY) N(VK_TIMEOUT) N(VK_INCOMPLETE)
    N(VK_ERROR_OUT_OF_HOST_MEMORY) N(VK_ERROR_OUT_OF_DEVICE_MEMORY) N(VK_ERROR_INITIALIZATION_FAILED)
    N(VK_ERROR_DEVICE_LOST) N(VK_ERROR_MEMORY_MAP_FAILED) N(VK_ERROR_LAYER_NOT_PRESENT)
    N(VK_ERROR_EXTENSION_NOT_PRESENT) N(VK_ERROR_FEATURE_NOT_PRESENT) N(VK_ERROR_INCOMPATIBLE_DRIVER)
    N(VK_ERROR_TOO_MANY_OBJECTS) N(VK_ERROR_FORMAT_NOT_SUPPORTED) N(VK_ERROR_FRAGMENTED_POOL)
    N(VK_ERROR_UNKNOWN) N(VK_ERROR_OUT_OF_POOL_MEMORY) N(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    N(VK_ERROR_FRAGMENTATION) N(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) N(VK_PIPELINE_COMPILE_REQUIRED)
#undef N
    default: return "VK_RESULT_UNKNOWN";
    }
}

void vkr_set_error(vkr_ctx *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
}

void vkr_set_vk_error(vkr_ctx *ctx, const char *file, int line, const char *call, VkResult r) {
    const char *base = strrchr(file, '/');
    char fn[128];
    snprintf(fn, sizeof fn, "%.127s", call);
    char *paren = strchr(fn, '(');
    if (paren) *paren = '\0';
    vkr_set_error(ctx, "%s:%d %s -> %s", base ? base + 1 : file, line, fn, vkr_result_name(r));
}

#define MIB (1024.0 * 1024.0)

int vkr_device_failed(vkr_ctx *ctx, const char *what, VkResult r) {
    const vkr_device_info *d = &ctx->info;
    if (r == VK_ERROR_DEVICE_LOST) {
        ctx->lost = 1;
        vkr_set_error(ctx, "device lost: %s (%s) stopped while running %s: the driver reset the GPU (a hang, a "
                           "driver bug, or a step past its watchdog); nothing more can run on it in this process "
                           "[VK_ERROR_DEVICE_LOST]", d->name, d->driver_info, what);
    } else if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        vkr_set_error(ctx, "out of %s memory on %s while running %s (%.0f MiB allocated by phi3vk): free memory "
                           "other programs hold, or use a smaller --ctx or --batch [%s]",
                      r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host", d->name, what, ctx->allocated / MIB,
                      vkr_result_name(r));
    } else {
        vkr_set_error(ctx, "%s failed on %s: %s", what, d->name, vkr_result_name(r));
    }
    return -1;
}

VkResult vkr_fault(vkr_ctx *ctx) {
    ctx->n_submits++;
    return ctx->fault != VK_SUCCESS && ctx->n_submits > ctx->fault_after ? ctx->fault : VK_SUCCESS;
}

int vkr_planted(const vkr_ctx *ctx, const char *shader) {
    size_t n = strlen(shader);
    for (const char *p = ctx->plant; *p;) {
        size_t len = strcspn(p, ",");
        int prefix = len > 0 && p[len - 1] == '*';
        size_t cmp = prefix ? len - 1 : len;
        if (prefix ? n >= cmp && !strncmp(shader, p, cmp) : n == len && !strncmp(shader, p, len)) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

