/* The host, build and device-clock facts of bench rows (see host.h). */
#define _GNU_SOURCE 1 /* sys/utsname, dlopen under -std=c11 */
#include "bench/host.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"

#ifndef PHI3VK_BUILD_FLAGS
#define PHI3VK_BUILD_FLAGS "" /* set by CMakeLists.txt */
#endif

/* The value after "key" and a ':' (or '=') on the first line of path that
 * starts with key, trimmed and unquoted, into out. 0 when found. */
static int read_key(const char *path, const char *key, char sep, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int found = -1;
    size_t k = strlen(key);
    while (found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k)) continue;
        char *v = strchr(line + k, sep);
        if (!v || strspn(line + k, " \t") != (size_t)(v - line - (ptrdiff_t)k)) continue;
        v += 1 + strspn(v + 1, " \t\"");
        v[strcspn(v, "\"\r\n")] = '\0';
        snprintf(out, len, "%s", v);
        found = 0;
    }
    fclose(f);
    return found;
}

static void compiler_name(char *out, size_t len) {
#if defined(__clang__)
    snprintf(out, len, "clang %d.%d.%d", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    snprintf(out, len, "gcc %d.%d.%d", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    snprintf(out, len, "unknown C compiler");
#endif
}

void bench_host_query(bench_host *h) {
    memset(h, 0, sizeof *h);
    if (read_key("/proc/cpuinfo", "model name", ':', h->cpu, sizeof h->cpu) &&
        read_key("/proc/cpuinfo", "Hardware", ':', h->cpu, sizeof h->cpu) &&
        read_key("/proc/cpuinfo", "CPU part", ':', h->cpu, sizeof h->cpu))
        h->cpu[0] = '\0';
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    h->cores = n > 0 ? (int)n : 0;
    if (read_key("/etc/os-release", "PRETTY_NAME", '=', h->os, sizeof h->os)) h->os[0] = '\0';
    struct utsname u;
    if (uname(&u) == 0) snprintf(h->kernel, sizeof h->kernel, "%.40s %.80s", u.sysname, u.release);
    vkr_loader_version_str(h->loader, sizeof h->loader);
    compiler_name(h->compiler, sizeof h->compiler);
    snprintf(h->build, sizeof h->build, "%s", PHI3VK_BUILD_FLAGS);
}

/* ---- clocks ---- */

/* NVML (libnvidia-ml, installed with NVIDIA's driver), loaded at run time so
 * phi3vk needs no NVIDIA package to build or run. Signatures and enum
 * values from NVIDIA's nvml.h: NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2. */
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_by_pci_fn)(const char *bus_id, void **device);
typedef int (*nvml_clock_fn)(void *device, int type, unsigned *mhz);

static int nvml_clocks(const char *bus_id, bench_clocks *c) {
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return -1;
    nvml_init_fn init, shutdown;
    nvml_by_pci_fn by_pci;
    nvml_clock_fn cur, max;
    /* POSIX's way to take a function from dlsym under ISO C */
    *(void **)&init = dlsym(lib, "nvmlInit_v2");
    *(void **)&shutdown = dlsym(lib, "nvmlShutdown");
    *(void **)&by_pci = dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&cur = dlsym(lib, "nvmlDeviceGetClockInfo");
    *(void **)&max = dlsym(lib, "nvmlDeviceGetMaxClockInfo");
    int rc = -1;
    if (init && shutdown && by_pci && cur && max && init() == 0) {
        void *dev = NULL;
        unsigned v[4] = {0};
        if (by_pci(bus_id, &dev) == 0) {
            rc = cur(dev, 1, &v[0]) | cur(dev, 2, &v[1]);
            max(dev, 1, &v[2]), max(dev, 2, &v[3]);
            c->gpu_mhz = (int)v[0], c->mem_mhz = (int)v[1], c->gpu_max_mhz = (int)v[2], c->mem_max_mhz = (int)v[3];
        }
        shutdown();
    }
    dlclose(lib);
    return rc == 0 && c->gpu_mhz > 0 ? 0 : -1;
}

/* amdgpu's pp_dpm_* lists "N: 1800Mhz" levels, the current one marked '*':
 * *cur = the marked level, *max = the highest. 0 when read. */
static int dpm_levels(const char *path, int *cur, int *max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[128];
    int level, mhz;
    *cur = *max = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%d: %dMhz", &level, &mhz) == 2 || sscanf(line, "%d: %dMHz", &level, &mhz) == 2) {
            if (mhz > *max) *max = mhz;
            if (strchr(line, '*')) *cur = mhz;
        }
    fclose(f);
    return *max > 0 ? 0 : -1;
}

static int read_int(const char *path) {
    FILE *f = fopen(path, "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

static int sysfs_clocks(const char *pci_dir, bench_clocks *c) {
    char p[512];
    snprintf(p, sizeof p, "%s/pp_dpm_sclk", pci_dir);
    if (dpm_levels(p, &c->gpu_mhz, &c->gpu_max_mhz) == 0) { /* amdgpu */
        snprintf(p, sizeof p, "%s/pp_dpm_mclk", pci_dir);
        dpm_levels(p, &c->mem_mhz, &c->mem_max_mhz);
        return 0;
    }
    for (int card = 0; card < 16; card++) { /* i915: drm/cardN/gt_{cur,max}_freq_mhz */
        snprintf(p, sizeof p, "%s/drm/card%d/gt_cur_freq_mhz", pci_dir, card);
        if ((c->gpu_mhz = read_int(p)) > 0) {
            snprintf(p, sizeof p, "%s/drm/card%d/gt_max_freq_mhz", pci_dir, card);
            c->gpu_max_mhz = read_int(p);
            return 0;
        }
    }
    return -1;
}

void bench_clocks_query(const vkr_device_info *d, bench_clocks *c) {
    memset(c, 0, sizeof *c);
    if (!d->has_pci || d->is_cpu) return;
    char bus_id[32], dir[96];
    snprintf(bus_id, sizeof bus_id, "%04x:%02x:%02x.%x", d->pci_domain & 0xFFFF, d->pci_bus & 0xFF,
             d->pci_device & 0x1F, d->pci_function & 0x7);
    snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s", bus_id);
    if (d->vendor_id == 0x10DE && nvml_clocks(bus_id, c) == 0) snprintf(c->source, sizeof c->source, "nvml");
    else if (sysfs_clocks(dir, c) == 0) snprintf(c->source, sizeof c->source, "sysfs");
    else memset(c, 0, sizeof *c);
}

static double clock_or_nan(int mhz) { return mhz > 0 ? mhz : NAN; }

void bench_context_field(const bench_context *c, int i, bench_field *f) {
    const bench_host *h = c->host;
    const vkr_device_info *d = c->dev;
    const bench_clocks *k = c->clocks;
    switch (i) {
    case 0: *f = bench_int("schema_version", BENCH_SCHEMA_VERSION); break;
    case 1: *f = bench_str("kind", c->kind); break;
    case 2: *f = bench_str("phi3vk_version", c->version); break;
    case 3: *f = bench_str("phi3vk_commit", c->commit); break;
    case 4: *f = bench_str("date", c->date); break;
    case 5: *f = bench_str("host_cpu", h->cpu); break;
    case 6: *f = bench_int("host_cores", h->cores); break;
    case 7: *f = bench_str("host_os", h->os); break;
    case 8: *f = bench_str("host_kernel", h->kernel); break;
    case 9: *f = bench_str("vulkan_loader", h->loader); break;
    case 10: *f = bench_str("compiler", h->compiler); break;
    case 11: *f = bench_str("build_flags", h->build); break;
    case 12: *f = bench_int("device_index", d->index); break;
    case 13: *f = bench_str("device_name", d->name); break;
    case 14: *f = bench_str("device_vendor", d->vendor); break;
    case 15: *f = bench_str("device_type", d->type); break;
    case 16: *f = bench_str("driver_name", d->driver_name); break;
    case 17: *f = bench_str("driver_info", d->driver_info); break;
    case 18: *f = bench_str("driver_version", c->driver_version); break;
    case 19: *f = bench_str("vulkan_api", c->vulkan_api); break;
    case 20: *f = bench_str("device_profile", c->profile); break;
    case 21: *f = bench_int("subgroup_size", d->subgroup_size); break;
    case 22: *f = bench_int("gpu_clock_mhz", clock_or_nan(k->gpu_mhz)); break;
    case 23: *f = bench_int("gpu_clock_max_mhz", clock_or_nan(k->gpu_max_mhz)); break;
    case 24: *f = bench_int("mem_clock_mhz", clock_or_nan(k->mem_mhz)); break;
    case 25: *f = bench_int("mem_clock_max_mhz", clock_or_nan(k->mem_max_mhz)); break;
    default: *f = bench_str("clock_source", k->source); break;
    }
}
