/* Physical devices: listing, capability queries and the default choice. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vkr_internal.h"

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x1002: return "AMD";
    case 0x10DE: return "NVIDIA";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "ImgTec";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    case 0x1AE0: return "Google";
    default: return "unknown";
    }
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int has_extension(VkExtensionProperties *ext, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(ext[i].extensionName, name)) return 1;
    return 0;
}

void vkr_device_query(VkPhysicalDevice phys, int index, vkr_device_info *info) {
    memset(info, 0, sizeof *info);
    info->index = index;

    VkPhysicalDeviceDriverProperties driver = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties sgctl = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties maint3 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 props = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props.pNext = &driver;
    driver.pNext = &subgroup;
    subgroup.pNext = &maint3;

    VkPhysicalDeviceIDProperties ids = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    maint3.pNext = &ids;

    uint32_t n_ext = 0;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, NULL);
    VkExtensionProperties *ext = calloc(n_ext ? n_ext : 1, sizeof *ext);
    if (ext && vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, ext) != VK_SUCCESS) n_ext = 0;
    if (!ext) n_ext = 0;
    info->push_descriptor = has_extension(ext, n_ext, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    int sgctl_ext = has_extension(ext, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    info->has_pci = has_extension(ext, n_ext, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME);
    free(ext);

    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(phys, &base);
    /* Subgroup-size control: core in Vulkan 1.3, an extension before (the
     * structures are the same). */
    int sgctl_ok = base.apiVersion >= VK_API_VERSION_1_3 || sgctl_ext;
    info->subgroup_size_control_ext = base.apiVersion < VK_API_VERSION_1_3 && sgctl_ext;
    if (sgctl_ok) ids.pNext = &sgctl;
    /* the PCI address names the device to the clock readers of bench/host.c */
    VkPhysicalDevicePCIBusInfoPropertiesEXT pci = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT};
    if (info->has_pci) pci.pNext = props.pNext, props.pNext = &pci;
    vkGetPhysicalDeviceProperties2(phys, &props);
    info->pci_domain = pci.pciDomain, info->pci_bus = pci.pciBus;
    info->pci_device = pci.pciDevice, info->pci_function = pci.pciFunction;
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;

    snprintf(info->name, sizeof info->name, "%s", props.properties.deviceName);
    info->vendor_id = props.properties.vendorID;
    info->device_id = props.properties.deviceID;
    snprintf(info->vendor, sizeof info->vendor, "%s", vendor_name(info->vendor_id));
    snprintf(info->type, sizeof info->type, "%s", type_name(props.properties.deviceType));
    snprintf(info->driver_name, sizeof info->driver_name, "%s", driver.driverName);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", driver.driverInfo);
    info->driver_version = props.properties.driverVersion;
    info->api_version = props.properties.apiVersion;
    info->is_cpu = props.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    memcpy(info->uuid, ids.deviceUUID, sizeof info->uuid);

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(phys, &mem);
    info->n_heaps = (int)(mem.memoryHeapCount < VKR_MAX_HEAPS ? mem.memoryHeapCount : VKR_MAX_HEAPS);
    for (int i = 0; i < info->n_heaps; i++) {
        info->heap_size[i] = mem.memoryHeaps[i].size;
        info->heap_device_local[i] = !!(mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT);
        if (info->heap_device_local[i] && info->heap_size[i] > info->device_local_bytes)
            info->device_local_bytes = info->heap_size[i];
    }

    VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures sgf = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceFeatures2 feats = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    feats.pNext = &s16;
    s16.pNext = &f16;
    if (sgctl_ok) f16.pNext = &sgf;
    vkGetPhysicalDeviceFeatures2(phys, &feats);
    info->fp16_arith = f16.shaderFloat16;
    info->storage16 = s16.storageBuffer16BitAccess;
    info->subgroup_size_control = sgf.subgroupSizeControl && sgf.computeFullSubgroups;

    info->subgroup_size = subgroup.subgroupSize;
    info->subgroup_ops = subgroup.supportedOperations;
    info->min_subgroup_size = sgctl.minSubgroupSize ? sgctl.minSubgroupSize : subgroup.subgroupSize;
    info->max_subgroup_size = sgctl.maxSubgroupSize ? sgctl.maxSubgroupSize : subgroup.subgroupSize;
    info->max_workgroup_subgroups = sgctl.maxComputeWorkgroupSubgroups;
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->storage_offset_align = (uint32_t)lim->minStorageBufferOffsetAlignment;
    info->max_alloc_size = maint3.maxMemoryAllocationSize;
    info->max_texel_elements = lim->maxTexelBufferElements;
    info->max_uniform_range = lim->maxUniformBufferRange;
    info->shared_memory = lim->maxComputeSharedMemorySize;
    info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    info->timestamps = lim->timestampComputeAndGraphics;
    info->timestamp_period = lim->timestampPeriod;
}

void vkr_driver_version_str(const vkr_device_info *d, char *buf, size_t len) {
    uint32_t v = d->driver_version;
    if (d->vendor_id == 0x10DE) /* NVIDIA: 10.8.8.6 bits */
        snprintf(buf, len, "%u.%u.%u.%u", v >> 22, (v >> 14) & 0xFF, (v >> 6) & 0xFF, v & 0x3F);
    else if (d->vendor_id == 0x8086 && strstr(d->driver_name, "Windows"))
        snprintf(buf, len, "%u.%u", v >> 14, v & 0x3FFF);
    else
        snprintf(buf, len, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

void vkr_api_version_str(const vkr_device_info *d, char *buf, size_t len) {
    uint32_t v = d->api_version;
    snprintf(buf, len, "%u.%u.%u", v >> 22, (v >> 12) & 0x3FF, v & 0xFFF);
}

void vkr_loader_version_str(char *buf, size_t len) {
    uint32_t v = volkGetInstanceVersion();
    if (v) snprintf(buf, len, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
    else if (len) buf[0] = '\0';
}

static int type_rank(const vkr_device_info *d) {
    if (!strcmp(d->type, "discrete")) return 4;
    if (!strcmp(d->type, "integrated")) return 3;
    if (!strcmp(d->type, "virtual")) return 2;
    if (!strcmp(d->type, "cpu")) return 0;
    return 1;
}

int vkr_devices_pick(const vkr_device_info *devs, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (best < 0 || type_rank(&devs[i]) > type_rank(&devs[best]) ||
            (type_rank(&devs[i]) == type_rank(&devs[best]) &&
             devs[i].device_local_bytes > devs[best].device_local_bytes))
            best = i;
    }
    return best;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

int vkr_devices_match(const vkr_device_info *devs, int n, const char *sel, char *err, size_t errlen) {
    char *end = NULL;
    long idx = strtol(sel, &end, 10);
    if (*sel && end && *end == '\0') {
        if (idx >= 0 && idx < n) return (int)idx;
        snprintf(err, errlen, "--device %s: no device with that index (found %d device%s: 0..%d)", sel, n,
                 n == 1 ? "" : "s", n - 1);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (contains_nocase(devs[i].name, sel)) return i;
    size_t off = (size_t)snprintf(err, errlen, "--device %s: no device name contains it; devices:", sel);
    for (int i = 0; i < n && off < errlen; i++)
        off += (size_t)snprintf(err + off, errlen - off, " [%d] %s", i, devs[i].name);
    return -1;
}

int vkr_devices_list(vkr_device_info **out, int *n, char *err, size_t errlen) {
    *out = NULL;
    *n = 0;
    if (volkInitialize() != VK_SUCCESS) {
        snprintf(err, errlen, "no Vulkan loader (libvulkan.so.1) found: install libvulkan1 and a driver "
                              "(e.g. mesa-vulkan-drivers)");
        return -1;
    }
    VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "phi3vk";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ici = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    VkInstance inst = VK_NULL_HANDLE;
    VkResult r = vkCreateInstance(&ici, NULL, &inst);
    if (r != VK_SUCCESS) {
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
            snprintf(err, errlen, "%s (vkCreateInstance -> %s)", VKR_NO_DRIVER_HELP, vkr_result_name(r));
        else
            snprintf(err, errlen, "vkCreateInstance -> %s: no usable Vulkan driver", vkr_result_name(r));
        return -1;
    }
    vkr_pin_loaded_objects();
    volkLoadInstanceOnly(inst);
    uint32_t count = 0;
    vkEnumeratePhysicalDevices(inst, &count, NULL);
    VkPhysicalDevice *phys = calloc(count ? count : 1, sizeof *phys);
    vkr_device_info *infos = calloc(count ? count : 1, sizeof *infos);
    if (!phys || !infos) {
        snprintf(err, errlen, "out of host memory");
        free(phys);
        free(infos);
        vkDestroyInstance(inst, NULL);
        return -1;
    }
    vkEnumeratePhysicalDevices(inst, &count, phys);
    for (uint32_t i = 0; i < count; i++) vkr_device_query(phys[i], (int)i, &infos[i]);
    free(phys);
    vkDestroyInstance(inst, NULL);
    if (count == 0) {
        free(infos);
        snprintf(err, errlen, "no Vulkan device found: install a driver (e.g. mesa-vulkan-drivers)");
        return -1;
    }
    *out = infos;
    *n = (int)count;
    return 0;
}
