/* tests/lsan/check.sh runs this under LeakSanitizer in one of four modes and
 * checks what it reports:
 *   driver-unpinned DRIVER.so  load, init and unload a driver-like library:
 *                              its global block is reported as a leak
 *   driver-pinned DRIVER.so    the same with vkr_pin_loaded_objects() after the
 *                              load (what vk/ does after vkCreateInstance): clean
 *   vulkan                     create and destroy a phi3vk Vulkan context: clean,
 *                              and every object mapped while it lived (the
 *                              driver, its layers) still mapped afterwards
 *   planted                    a phi3vk allocation that is never freed (the
 *                              device list of vkr_devices_list) after a Vulkan
 *                              context: reported, naming vkr_devices_list */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "vk/vkr.h"

void vkr_pin_loaded_objects(void); /* vk/vkr_internal.h */

static int driver(const char *path, int pin) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "probe: %s\n", dlerror());
        return 2;
    }
    int (*init)(void) = NULL;
    void *sym = dlsym(h, "fake_driver_init");
    memcpy(&init, &sym, sizeof init); /* ISO C has no object -> function pointer cast */
    if (!init || init()) return 2;
    if (pin) vkr_pin_loaded_objects();
    return dlclose(h) ? 2 : 0;
}

static int count_one(struct dl_phdr_info *info, size_t size, void *n) {
    (void)info;
    (void)size;
    (*(int *)n)++;
    return 0;
}

static int mapped_objects(void) {
    int n = 0;
    dl_iterate_phdr(count_one, &n);
    return n;
}

static int vulkan(int plant) {
    char err[512];
    vkr_ctx *ctx = vkr_ctx_create(&(vkr_ctx_opts){.cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!ctx) {
        fprintf(stderr, "probe: %s\n", err);
        return 77;
    }
    int before = mapped_objects();
    vkr_ctx_destroy(ctx);
    int after = mapped_objects();
    if (after < before) {
        fprintf(stderr, "probe: %d shared objects mapped before vkr_ctx_destroy, %d after: the driver was unloaded\n",
                before, after);
        return 3;
    }
    if (!plant) return 0;
    vkr_device_info *devs;
    int n;
    if (vkr_devices_list(&devs, &n, err, sizeof err)) return 2;
    printf("probe: %d devices, list not freed\n", n); /* the planted leak */
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "driver-unpinned") && argc > 2) return driver(argv[2], 0);
    if (!strcmp(mode, "driver-pinned") && argc > 2) return driver(argv[2], 1);
    if (!strcmp(mode, "vulkan")) return vulkan(0);
    if (!strcmp(mode, "planted")) return vulkan(1);
    fprintf(stderr, "usage: lsan_probe driver-unpinned|driver-pinned DRIVER.so | vulkan | planted\n");
    return 2;
}
