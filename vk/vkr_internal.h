/* Private to vk/: the structs behind the opaque handles of vkr.h. */
#ifndef PHI3VK_VK_INTERNAL_H
#define PHI3VK_VK_INTERNAL_H

#include <volk.h>

#include "vk/vkr.h"

/* Runs a Vulkan call; on failure records "file:line call -> VK_ERROR_X" in
 * ctx and jumps to fail. */
/* What to say when vkCreateInstance finds no driver (the loader's
 * VK_ERROR_INCOMPATIBLE_DRIVER): which package gives one. */
#define VKR_NO_DRIVER_HELP                                                                                   \
    "no Vulkan driver found: install one (Debian/Ubuntu: apt-get install mesa-vulkan-drivers, which "  \
    "has Mesa's AMD and Intel GPU drivers and lavapipe, a CPU driver; NVIDIA: the vendor's driver, e.g. "   \
    "nvidia-driver). `phi3vk devices` lists what the loader finds"

#define VKR_TRY(ctx, call)                                                    \
    do {                                                                      \
        VkResult vkr_res_ = (call);                                           \
        if (vkr_res_ != VK_SUCCESS) {                                         \
            vkr_set_vk_error((ctx), __FILE__, __LINE__, #call, vkr_res_);     \
            goto fail;                                                        \
        }                                                                     \
    } while (0)

#define VKR_STAGING_SLOTS 4

/* A device-memory block that weight buffers are bound into. */
typedef struct vkr_block {
    VkDeviceMemory mem;
    uint64_t size, used;
    void *map;                 /* non-NULL when host-visible */
} vkr_block;

struct vkr_pipeline {
    vkr_pipeline_desc desc;
    char shader_name[64];
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    VkShaderModule module;
    struct vkr_pipeline *next;  /* ctx's list */
};

struct vkr_buffer {
    char name[64];
    vkr_buffer_kind kind;
    uint64_t size;
    VkBuffer buffer;
    VkBufferView view;         /* RGBA32UI view of VKR_BUF_WEIGHT */
    VkDeviceMemory own_mem;    /* dedicated memory (device/host kinds) */
    uint64_t alloc_size;       /* bytes of own_mem */
    uint64_t block_offset;     /* weights: offset in the block */
    int block;                 /* weights: index into ctx->blocks, else -1 */
    void *map;                 /* host pointer when host-visible */
    int is_tensor;             /* made by vkr_tensor_create: tensor is valid */
    vkr_tensor_desc tensor;
};

/* One staging slot: a host-visible buffer, a command buffer that copies from
 * it, and a fence that says when the slot may be written again. */
typedef struct vkr_staging_slot {
    VkBuffer buffer;
    VkDeviceMemory mem;
    uint8_t *map;
    VkCommandBuffer cmd;
    VkFence fence;
    uint64_t used;
    int recording, pending;
} vkr_staging_slot;

struct vkr_ctx {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;
    VkPipelineCache pcache;
    char pcache_path[1024];
    char cache_dir[768];             /* folder of pcache_path ("" when none) */
    vkr_device_info info;
    vkr_device_profile dprof;
    VkPhysicalDeviceMemoryProperties memprops;
    int profile;
    int verbose;
    int validation_messages;
    int validation_quiet;            /* test hook: count, do not print */
    uint64_t device_storage_range;   /* the device's maxStorageBufferRange (info's may be lowered by a test) */
    int lost;                        /* VK_ERROR_DEVICE_LOST seen: every later submit fails */
    char plant[256];                 /* test hook PHI3VK_TEST_PLANT: shaders to dispatch wrongly */
    VkResult fault;                  /* test hook PHI3VK_TEST_FAULT: this result ... */
    long fault_after, n_submits;     /* ... for every submission after fault_after */
    char last_validation[1024];      /* the last validation message */
    uint64_t allocated;
    char error[1024];

    vkr_block *blocks;
    int n_blocks, cap_blocks;
    uint64_t block_size;
    uint64_t weights_expected;       /* vkr_weights_expect: weight bytes still to come (0: unknown) */

    vkr_pipeline *pipelines;

    vkr_staging_slot staging[VKR_STAGING_SLOTS];
    int staging_cur;
    uint64_t staging_size;
};

/* Records an error message (printf-style) in ctx->error. */
void vkr_set_error(vkr_ctx *ctx, const char *fmt, ...);
void vkr_set_vk_error(vkr_ctx *ctx, const char *file, int line, const char *call, VkResult r);
const char *vkr_result_name(VkResult r);

/* The descriptor type of a binding kind of vkr_pipeline_desc.bindings (the
 * pipeline layout and each dispatch's descriptor writes use the same). */
static inline VkDescriptorType vkr_binding_type(char kind) {
    switch (kind) {
    case 't': case 'x': return VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    case 'T': case 'X': return VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
    case 'u': return VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    default: return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER; /* 'r', 'w' */
    }
}

/* Reports a failed submission or wait of `what` (a command buffer's name):
 * device lost (the context is marked lost), out of memory, or another
 * error, each naming the device. Returns -1. */
int vkr_device_failed(vkr_ctx *ctx, const char *what, VkResult r);
/* Test hook: the result the next submission should fail with (VK_SUCCESS:
 * none), from PHI3VK_TEST_FAULT. */
VkResult vkr_fault(vkr_ctx *ctx);
/* Test hook: 1 when PHI3VK_TEST_PLANT names this shader ("name", or
 * "prefix*"), whose dispatches then cover half their workgroups. */
int vkr_planted(const vkr_ctx *ctx, const char *shader);

/* Fills *info for one physical device. */
void vkr_device_query(VkPhysicalDevice phys, int index, vkr_device_info *info);
/* Memory type index with all of `want` flags among type_bits, or -1. */
int vkr_memory_type(const vkr_ctx *ctx, uint32_t type_bits, VkMemoryPropertyFlags want);
/* Allocates device memory, reporting heap sizes on VK_ERROR_OUT_OF_*_MEMORY. */
int vkr_memory_alloc(vkr_ctx *ctx, const char *name, uint64_t size, uint32_t type_bits,
                     VkMemoryPropertyFlags want, VkMemoryPropertyFlags fallback,
                     VkDeviceMemory *out, void **map);
void vkr_object_name(vkr_ctx *ctx, VkObjectType type, uint64_t handle, const char *name);

/* Sanitizer builds (PHI3VK_SANITIZE): marks every shared object mapped now
 * RTLD_NODELETE, so the driver and layers that the loader opened stay mapped
 * after vkDestroyInstance and LeakSanitizer can see their globals and name
 * their frames (vk/pin.c says why). Call after vkCreateInstance. No-op in
 * other builds. */
void vkr_pin_loaded_objects(void);

int vkr_staging_init(vkr_ctx *ctx);
void vkr_staging_free(vkr_ctx *ctx);
void vkr_pipelines_free(vkr_ctx *ctx);

#endif
