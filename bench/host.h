/* What a bench row records about the machine, so rows from different
 * hosts, builds and drivers can be told apart later: the CPU, cores, OS,
 * kernel, Vulkan loader, compiler and build flags, and the device's clocks
 * where the driver reports them (NVML on NVIDIA, sysfs for amdgpu and i915;
 * Vulkan itself has no clock query). */
#ifndef PHI3VK_BENCH_HOST_H
#define PHI3VK_BENCH_HOST_H
#include <stddef.h>

#include "bench/text.h"
#include "vk/vkr.h"

typedef struct bench_host {
    char cpu[128];        /* /proc/cpuinfo "model name" (or "Hardware", "CPU part"); "" when unknown */
    int cores;            /* online logical CPUs */
    char os[128];         /* /etc/os-release PRETTY_NAME, "Debian GNU/Linux 12 (bookworm)" */
    char kernel[128];     /* uname: "Linux 6.1.0-18-amd64" */
    char loader[16];      /* Vulkan loader instance version, "1.3.239" */
    char compiler[64];    /* the compiler phi3vk was built with, "gcc 12.2.0" */
    char build[256];      /* build type and C flags, "Release -O3 -DNDEBUG" */
} bench_host;

/* Fills *h (never fails: what cannot be read stays ""). Call with a Vulkan
 * context open, so the loader version is known. */
void bench_host_query(bench_host *h);

/* A device's clocks in MHz as its driver reports them right now; 0 when not
 * reported. */
typedef struct bench_clocks {
    int gpu_mhz, mem_mhz;          /* current graphics/SM and memory clocks */
    int gpu_max_mhz, mem_max_mhz;  /* the highest the driver allows */
    char source[16];               /* "nvml", "sysfs" or "" (none reported) */
} bench_clocks;

/* Reads the clocks of device d (found by its PCI address, which needs
 * VK_EXT_pci_bus_info). Never fails: *c stays zeroed when nothing reports
 * them (CPU devices, a driver without such files, no NVML). */
void bench_clocks_query(const vkr_device_info *d, bench_clocks *c);

/* What every row of every bench report opens with (README, "Benchmark
 * rows"): schema_version, kind, the build, the date, the host and the
 * device with its clocks. Pointers are borrowed for the call. */
typedef struct bench_context {
    const char *kind;              /* "model", "judge", "kernel" */
    const char *version, *commit;  /* PHI3VK_VERSION, PHI3VK_COMMIT */
    const char *date;              /* UTC, ISO 8601 */
    const bench_host *host;
    const vkr_device_info *dev;
    const char *driver_version, *vulkan_api, *profile;
    const bench_clocks *clocks;
} bench_context;

#define BENCH_CONTEXT_FIELDS 27

/* Field i (0 .. BENCH_CONTEXT_FIELDS - 1) of c into *f; the rows' own
 * fields follow from index BENCH_CONTEXT_FIELDS on. */
void bench_context_field(const bench_context *c, int i, bench_field *f);

#endif
