/* Context: instance (+ validation), logical device, queue, pools, the
 * on-disk pipeline cache, and error reporting. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vk/vkr_internal.h"

const char *vkr_ctx_error(const vkr_ctx *ctx) { return ctx->error; }

int vkr_ctx_error_to(const vkr_ctx *ctx, char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "%s", ctx->error);
    return -1;
}
const char *vkr_ctx_cache_dir(const vkr_ctx *ctx) { return ctx->cache_dir; }
const vkr_device_info *vkr_ctx_device(const vkr_ctx *ctx) { return &ctx->info; }
const vkr_device_profile *vkr_ctx_profile(const vkr_ctx *ctx) { return &ctx->dprof; }

vkr_device_profile *vkr_ctx_profile_mut(vkr_ctx *ctx) { return &ctx->dprof; }

int vkr_ctx_use_profile(vkr_ctx *ctx, const char *name) {
    vkr_device_profile p;
    if (vkr_device_profile_pick(&ctx->info, name, &p, ctx->error, sizeof ctx->error)) return -1;
    ctx->dprof = p;
    return 0;
}
int vkr_ctx_validation_messages(const vkr_ctx *ctx) { return ctx->validation_messages; }
const char *vkr_ctx_last_validation_message(const vkr_ctx *ctx) { return ctx->last_validation; }
void vkr_ctx_quiet_validation_for_test(vkr_ctx *ctx, int on) { ctx->validation_quiet = on; }
void vkr_ctx_limit_storage_range_for_test(vkr_ctx *ctx, uint64_t bytes) {
    if (!ctx->device_storage_range) ctx->device_storage_range = ctx->info.max_storage_buffer_range;
    uint64_t r = bytes / 256 * 256;
    ctx->info.max_storage_buffer_range = r && r < ctx->device_storage_range ? r : ctx->device_storage_range;
}
uint64_t vkr_ctx_allocated(const vkr_ctx *ctx) { return ctx->allocated; }

/* Test hooks from the environment (see vkr.h): PHI3VK_TEST_PLANT=shader[*],...
 * and PHI3VK_TEST_FAULT=device-lost@N|oom@N. */
static void test_hooks(vkr_ctx *ctx) {
    const char *plant = getenv("PHI3VK_TEST_PLANT"), *fault = getenv("PHI3VK_TEST_FAULT");
    if (plant) snprintf(ctx->plant, sizeof ctx->plant, "%s", plant);
    if (!fault || !*fault) return;
    const char *at = strchr(fault, '@');
    ctx->fault_after = at ? strtol(at + 1, NULL, 10) : 0;
    if (!strncmp(fault, "device-lost", 11)) ctx->fault = VK_ERROR_DEVICE_LOST;
    else if (!strncmp(fault, "oom", 3)) ctx->fault = VK_ERROR_OUT_OF_DEVICE_MEMORY;
}

void vkr_object_name(vkr_ctx *ctx, VkObjectType type, uint64_t handle, const char *name) {
    if (!ctx->messenger || !vkSetDebugUtilsObjectNameEXT) return;
    VkDebugUtilsObjectNameInfoEXT ni = {VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT};
    ni.objectType = type;
    ni.objectHandle = handle;
    ni.pObjectName = name;
    vkSetDebugUtilsObjectNameEXT(ctx->device, &ni);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT types,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                       void *user) {
    (void)types;
    vkr_ctx *ctx = user;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    ctx->validation_messages++;
    const char *msg = data->pMessage ? data->pMessage : "(no message)";
    snprintf(ctx->last_validation, sizeof ctx->last_validation, "%s", msg);
    if (!ctx->validation_quiet)
        fprintf(stderr, "vulkan validation %s: %s\n",
                severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning", msg);
    return VK_FALSE;
}

static int layer_available(const char *name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *l = calloc(n ? n : 1, sizeof *l);
    if (!l) return 0;
    vkEnumerateInstanceLayerProperties(&n, l);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) found |= !strcmp(l[i].layerName, name);
    free(l);
    return found;
}

static int create_instance(vkr_ctx *ctx, int validate) {
    const char *layer = "VK_LAYER_KHRONOS_validation";
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
    if (validate && !layer_available(layer)) {
        vkr_set_error(ctx, "validation requested but %s is not installed (Debian: vulkan-validationlayers)", layer);
        return -1;
    }
    VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "phi3vk";
    app.applicationVersion = 1;
    app.apiVersion = VK_API_VERSION_1_3;
    VkDebugUtilsMessengerCreateInfoEXT dci = {VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dci.pfnUserCallback = on_debug_message;
    dci.pUserData = ctx;
    /* Synchronization validation too: a missing barrier between dispatches
     * is a hazard report, not a silent race (tests/test_vk_runtime.c plants
     * one to prove it is on). */
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT vf = {VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    vf.enabledValidationFeatureCount = 1;
    vf.pEnabledValidationFeatures = enables;
    vf.pNext = &dci; /* dci alone for vkCreateDebugUtilsMessengerEXT below */
    VkInstanceCreateInfo ici = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    if (validate) {
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = &layer;
        ici.enabledExtensionCount = 2;
        ici.ppEnabledExtensionNames = exts;
        ici.pNext = &vf;
    }
    VkResult r = vkCreateInstance(&ici, NULL, &ctx->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
        vkr_set_error(ctx, "%s (vkCreateInstance -> %s)", VKR_NO_DRIVER_HELP, vkr_result_name(r));
        return -1;
    }
    VKR_TRY(ctx, r);
    vkr_pin_loaded_objects();
    /* Device-level functions too, as the loader's trampolines: they dispatch
     * on the device a call is made for, so contexts on two devices (two
     * drivers, even) can run side by side in one process (judge/pool.c,
     * serve/). volkLoadDevice would point the global table at one driver's
     * entry points, and the other device's calls would go there. */
    volkLoadInstance(ctx->instance);
    if (validate) VKR_TRY(ctx, vkCreateDebugUtilsMessengerEXT(ctx->instance, &dci, NULL, &ctx->messenger));
    return 0;
fail:
    return -1;
}

static int choose_device(vkr_ctx *ctx, const vkr_ctx_opts *o) {
    uint32_t n = 0;
    VKR_TRY(ctx, vkEnumeratePhysicalDevices(ctx->instance, &n, NULL));
    if (n == 0) {
        vkr_set_error(ctx, "%s (the loader found no device)", VKR_NO_DRIVER_HELP);
        return -1;
    }
    VkPhysicalDevice phys[16];
    vkr_device_info infos[16];
    if (n > 16) n = 16;
    VKR_TRY(ctx, vkEnumeratePhysicalDevices(ctx->instance, &n, phys));
    for (uint32_t i = 0; i < n; i++) vkr_device_query(phys[i], (int)i, &infos[i]);
    int pick = o->device && *o->device ? vkr_devices_match(infos, (int)n, o->device, ctx->error, sizeof ctx->error)
                                       : vkr_devices_pick(infos, (int)n);
    if (pick < 0) return -1;
    ctx->phys = phys[pick];
    ctx->info = infos[pick];
    if (ctx->info.is_cpu && !(o->device && *o->device) && !o->quiet)
        fprintf(stderr, "phi3vk: no GPU found; using the CPU Vulkan device '%s' (slow)\n", ctx->info.name);
    return 0;
fail:
    return -1;
}

static int create_device(vkr_ctx *ctx, const vkr_ctx_opts *o) {
    vkr_device_info *d = &ctx->info;
    if (o->mask_storage16) d->storage16 = 0;
    if (d->api_version < VK_API_VERSION_1_2) {
        vkr_set_error(ctx, "unsupported device: %s supports Vulkan %u.%u, phi3vk needs 1.2", d->name,
                      VK_API_VERSION_MAJOR(d->api_version), VK_API_VERSION_MINOR(d->api_version));
        return -1;
    }
    if (!d->storage16) {
        vkr_set_error(ctx, "unsupported device: missing storageBuffer16BitAccess on %s", d->name);
        return -1;
    }
    if (!d->push_descriptor) {
        vkr_set_error(ctx, "unsupported device: missing VK_KHR_push_descriptor on %s", d->name);
        return -1;
    }
    const uint32_t need_ops = VKR_SUBGROUP_ARITHMETIC | VKR_SUBGROUP_SHUFFLE;
    if ((d->subgroup_ops & need_ops) != need_ops) {
        vkr_set_error(ctx, "unsupported device: %s lacks subgroup %s in compute shaders", d->name,
                      !(d->subgroup_ops & VKR_SUBGROUP_ARITHMETIC) ? "arithmetic" : "shuffles");
        return -1;
    }
    /* Weights and caches are read as RGBA32UI texels, through uniform and
     * storage texel buffers (both mandatory for this format in Vulkan). */
    VkFormatProperties fp;
    vkGetPhysicalDeviceFormatProperties(ctx->phys, VK_FORMAT_R32G32B32A32_UINT, &fp);
    const VkFormatFeatureFlags need_fmt =
        VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT | VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT;
    if ((fp.bufferFeatures & need_fmt) != need_fmt) {
        vkr_set_error(ctx, "unsupported device: %s cannot read R32G32B32A32_UINT %s texel buffers", d->name,
                      !(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) ? "uniform" : "storage");
        return -1;
    }

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, qf);
    int family = -1;
    for (uint32_t i = 0; i < nq; i++) /* prefer a compute-only queue, else any with compute */
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            (family < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
            family = (int)i;
    if (family < 0) {
        vkr_set_error(ctx, "unsupported device: %s has no compute queue", d->name);
        return -1;
    }
    ctx->queue_family = (uint32_t)family;
    if (qf[family].timestampValidBits == 0) d->timestamps = 0;

    VkPhysicalDeviceVulkan13Features f13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &f11;
    f11.pNext = &f12;
    f11.storageBuffer16BitAccess = VK_TRUE;
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fext = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
    const char *exts[2] = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME};
    uint32_t n_exts = 1;
    if (d->subgroup_size_control && d->api_version >= VK_API_VERSION_1_3) {
        f12.pNext = &f13;
        f13.subgroupSizeControl = VK_TRUE;
        f13.computeFullSubgroups = VK_TRUE;
    } else if (d->subgroup_size_control && d->subgroup_size_control_ext) {
        f12.pNext = &fext;
        fext.subgroupSizeControl = VK_TRUE;
        fext.computeFullSubgroups = VK_TRUE;
        n_exts = 2;
    } else {
        d->subgroup_size_control = 0;
    }
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = ctx->queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    VkDeviceCreateInfo dci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &f2;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = n_exts;
    dci.ppEnabledExtensionNames = exts;
    VKR_TRY(ctx, vkCreateDevice(ctx->phys, &dci, NULL, &ctx->device));
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    vkGetPhysicalDeviceMemoryProperties(ctx->phys, &ctx->memprops);

    VkCommandPoolCreateInfo pci = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = ctx->queue_family;
    VKR_TRY(ctx, vkCreateCommandPool(ctx->device, &pci, NULL, &ctx->pool));
    return 0;
fail:
    return -1;
}

/* The cache file is keyed by device and driver so a driver update starts a
 * fresh cache instead of feeding the new driver stale data. */
static void pcache_path(vkr_ctx *ctx, const char *dir_opt) {
    char *dir = ctx->cache_dir;
    size_t len = sizeof ctx->cache_dir;
    const char *env = getenv("PHI3VK_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir_opt) snprintf(dir, len, "%s", dir_opt);
    else if (env && *env) snprintf(dir, len, "%s", env);
    else if (xdg && *xdg) snprintf(dir, len, "%s/phi3vk", xdg);
    else if (home && *home) snprintf(dir, len, "%s/.cache/phi3vk", home);
    else dir[0] = '\0';
    ctx->pcache_path[0] = '\0';
    if (!dir[0]) return;
    snprintf(ctx->pcache_path, sizeof ctx->pcache_path, "%s/pipelines-%04x-%04x-%08x.bin", dir, ctx->info.vendor_id,
             ctx->info.device_id, ctx->info.driver_version);
}

static int mkdirs(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static int create_pcache(vkr_ctx *ctx) {
    void *data = NULL;
    size_t size = 0;
    FILE *f = ctx->pcache_path[0] ? fopen(ctx->pcache_path, "rb") : NULL;
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long n = ftell(f);
            if (n > 0 && n < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n)))
                size = fread(data, 1, (size_t)n, f);
        }
        fclose(f);
    }
    /* A header that does not match this device is ignored (the driver would
     * also reject it, but some drivers are fragile with foreign data). */
    if (size >= 32) {
        uint32_t hdr[4];
        memcpy(hdr, data, sizeof hdr);
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(ctx->phys, &p);
        if (hdr[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE || hdr[2] != p.vendorID || hdr[3] != p.deviceID ||
            memcmp((uint8_t *)data + 16, p.pipelineCacheUUID, VK_UUID_SIZE) != 0)
            size = 0;
    } else {
        size = 0;
    }
    VkPipelineCacheCreateInfo ci = {VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ci.initialDataSize = size;
    ci.pInitialData = size ? data : NULL;
    VkResult r = vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pcache);
    free(data);
    if (r != VK_SUCCESS) {
        vkr_set_vk_error(ctx, __FILE__, __LINE__, "vkCreatePipelineCache", r);
        return -1;
    }
    return 0;
}

static void save_pcache(vkr_ctx *ctx) {
    if (!ctx->pcache || !ctx->pcache_path[0]) return;
    size_t size = 0;
    if (vkGetPipelineCacheData(ctx->device, ctx->pcache, &size, NULL) != VK_SUCCESS || size == 0) return;
    void *data = malloc(size);
    if (!data) return;
    if (vkGetPipelineCacheData(ctx->device, ctx->pcache, &size, data) == VK_SUCCESS && mkdirs(ctx->pcache_path) == 0) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", ctx->pcache_path);
        FILE *f = fopen(tmp, "wb");
        if (f) {
            int ok = fwrite(data, 1, size, f) == size;
            ok &= fclose(f) == 0;
            if (ok) rename(tmp, ctx->pcache_path); /* atomic: a crash never leaves half a cache */
            else remove(tmp);
        }
    }
    free(data);
}

vkr_ctx *vkr_ctx_create(const vkr_ctx_opts *opts, char *err, size_t errlen) {
    vkr_ctx_opts defaults = {0};
    const vkr_ctx_opts *o = opts ? opts : &defaults;
    vkr_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    ctx->verbose = o->verbose;
    test_hooks(ctx);
    if (volkInitialize() != VK_SUCCESS) {
        vkr_set_error(ctx, "no Vulkan loader (libvulkan.so.1) found: install libvulkan1 and a driver");
        goto fail;
    }
    if (create_instance(ctx, o->validate) || choose_device(ctx, o) || create_device(ctx, o)) goto fail;
    if (vkr_device_profile_pick(&ctx->info, o->device_profile, &ctx->dprof, ctx->error, sizeof ctx->error)) goto fail;
    ctx->profile = o->profile && ctx->info.timestamps;
    pcache_path(ctx, o->cache_dir && !*o->cache_dir ? NULL : o->cache_dir);
    if (o->cache_dir && !*o->cache_dir) ctx->pcache_path[0] = ctx->cache_dir[0] = '\0';
    if (create_pcache(ctx) || vkr_staging_init(ctx)) goto fail;
    if (o->verbose)
        fprintf(stderr, "phi3vk: device %d: %s (%s, %s), subgroup %u, device profile %s%s%s%s\n", ctx->info.index,
                ctx->info.name, ctx->info.type, ctx->info.driver_info, ctx->info.subgroup_size, ctx->dprof.name,
                ctx->dprof.forced ? " (forced)" : "", ctx->dprof.quirks[0] ? "; quirks: " : "", ctx->dprof.quirks);
    return ctx;
fail:
    snprintf(err, errlen, "%s", ctx->error);
    vkr_ctx_destroy(ctx);
    return NULL;
}

void vkr_ctx_destroy(vkr_ctx *ctx) {
    if (!ctx) return;
    if (ctx->device) {
        vkDeviceWaitIdle(ctx->device);
        vkr_staging_free(ctx);
        vkr_pipelines_free(ctx);
        save_pcache(ctx);
        if (ctx->pcache) vkDestroyPipelineCache(ctx->device, ctx->pcache, NULL);
        for (int i = 0; i < ctx->n_blocks; i++) vkFreeMemory(ctx->device, ctx->blocks[i].mem, NULL);
        if (ctx->pool) vkDestroyCommandPool(ctx->device, ctx->pool, NULL);
        vkDestroyDevice(ctx->device, NULL);
    }
    free(ctx->blocks);
    if (ctx->messenger) vkDestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, NULL);
    if (ctx->instance) vkDestroyInstance(ctx->instance, NULL);
    free(ctx);
}
