/* Sanitizer builds: keep the Vulkan driver mapped until exit.
 *
 * The Vulkan loader dlopen()s the ICD (and layers) in vkCreateInstance and
 * dlclose()s them in vkDestroyInstance. Drivers keep some allocations for the
 * life of the process in their own globals; Mesa's CPU detection, for one,
 * reallocs one 128-byte affinity mask per L3 cache on AMD Zen processors
 * (util_cpu_caps.L3_affinity_mask) and never frees it. Once the driver is
 * unmapped, LeakSanitizer at exit no longer sees that global (so the block is
 * "leaked") and cannot name the frames that allocated it ("<unknown module>"),
 * so no suppression by library name can match. Marking every object that is
 * mapped after instance creation RTLD_NODELETE keeps the driver's globals as
 * roots and its frames resolvable: nothing of phi3vk's is hidden, and the
 * suppressions in tests/lsan.supp name the driver libraries that remain. */
#ifdef PHI3VK_SANITIZE
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <link.h>
#endif

#include "vk/vkr_internal.h"

#ifdef PHI3VK_SANITIZE
static int pin_one(struct dl_phdr_info *info, size_t size, void *user) {
    (void)size;
    (void)user;
    if (!info->dlpi_name || !info->dlpi_name[0]) return 0; /* the executable itself */
    /* RTLD_NOLOAD: only objects already mapped; RTLD_NODELETE: never unmapped. */
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (h) dlclose(h); /* drops the reference taken just now; the object stays */
    return 0;
}

void vkr_pin_loaded_objects(void) { dl_iterate_phdr(pin_one, NULL); }
#else
void vkr_pin_loaded_objects(void) {}
#endif
