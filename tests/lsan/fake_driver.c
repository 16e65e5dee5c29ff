/* A stand-in for a Vulkan driver, for tests/lsan/check.sh: like Mesa's CPU
 * detection it reallocs a block into a global once and never frees it. It
 * is loaded with dlopen and unloaded with dlclose, as the Vulkan loader does
 * with an ICD, so LeakSanitizer reports the block at exit unless the object
 * stays mapped. */
#include <stdlib.h>

static void *affinity_masks; /* lives as long as the library is mapped */

int fake_driver_init(void) {
    void *p = realloc(affinity_masks, 128);
    if (!p) return -1;
    affinity_masks = p;
    ((volatile char *)p)[0] = 1;
    return 0;
}
