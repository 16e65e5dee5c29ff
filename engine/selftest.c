/* The device self-test (see selftest.h). */
#include "engine/selftest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/check.h"
#include "util/time.h"


void eng_selftest_names(uint32_t fallbacks, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < VKR_KERNEL_FAMILIES && off < len; i++)
        if (fallbacks & (1u << i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", vkr_kernel_names[i]);
    if (!off) snprintf(buf, len, "none");
}

static void verdict_path(vkr_ctx *vk, char *out, size_t len) {
    const char *dir = vkr_ctx_cache_dir(vk);
    const vkr_device_info *d = vkr_ctx_device(vk);
    out[0] = '\0';
    if (!dir[0]) return;
    char uuid[33];
    for (int i = 0; i < 16; i++) snprintf(uuid + 2 * i, 3, "%02x", d->uuid[i]);
    /* A planted wrong kernel (test hook) is another build as far as verdicts go. */
    uint64_t build = vkr_shaders_hash();
    const char *plant = getenv("PHI3VK_TEST_PLANT");
    for (const char *c = plant ? plant : ""; *c; c++) build = (build ^ (unsigned char)*c) * 1099511628211ull;
    snprintf(out, len, "%s/selftest-%s-%08x-sg%u-%s-%s-%s-%016llx.txt", dir, uuid, d->driver_version,
             d->subgroup_size, vkr_ctx_profile(vk)->name, PHI3VK_VERSION, PHI3VK_COMMIT, (unsigned long long)build);
}

/* Reads "result=" and "fallbacks=" from a verdict file. 0 when it holds a
 * usable verdict (pass or fallback); a refusal or a broken file is re-tested. */
static int read_verdict(const char *path, eng_selftest_result *out) {
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f) return -1;
    char line[512];
    int result = -1;
    unsigned mask = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "result=pass", 11)) result = 1;
        else if (!strncmp(line, "result=fallback", 15)) result = 0;
        else if (sscanf(line, "fallback_mask=%u", &mask) == 1) {
        } else if (!strncmp(line, "detail=", 7)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out->detail, sizeof out->detail, "%.255s", line + 7);
        }
    }
    fclose(f);
    if (result < 0 || mask >= (1u << VKR_KERNEL_FAMILIES) || (result == 1) != (mask == 0)) return -1;
    out->pass = result;
    out->fallbacks = mask;
    return 0;
}

static int mkdirs(const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

/* Written to a temporary name and renamed, so a crash never leaves half a
 * verdict; a folder that cannot be written only costs a re-test next time. */
static void write_verdict(vkr_ctx *vk, const eng_selftest_result *r) {
    if (!r->path[0] || mkdirs(r->path)) return;
    char tmp[1200], names[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    const vkr_device_info *d = vkr_ctx_device(vk);
    eng_selftest_names(r->fallbacks, names, sizeof names);
    fprintf(f, "# phi3vk device self-test verdict\ndevice=%s\ndriver=%s (%s)\nprofile=%s\nsubgroup=%u\nbuild=%s %s\n"
               "result=%s\nfallback_mask=%u\nfallbacks=%s\ndetail=%s\nruns=%d\nms=%.0f\n",
            d->name, d->driver_name, d->driver_info, vkr_ctx_profile(vk)->name, d->subgroup_size, PHI3VK_VERSION,
            PHI3VK_COMMIT, r->pass ? "pass" : "fallback", r->fallbacks, names, r->detail, r->runs, r->ms);
    if (fclose(f) == 0) rename(tmp, r->path);
    else remove(tmp);
}

/* One attestation run with the given fallbacks: 0 when it passed. */
static int attempt(vkr_ctx *vk, const eng_check_ref *ref, uint32_t fallbacks, eng_selftest_result *r,
                   eng_check_result *cr) {
    vkr_ctx_profile_mut(vk)->fallbacks = fallbacks;
    r->runs++;
    return eng_check_compare(vk, ref, cr);
}

/* Finds a set of families whose portable variants make the check pass:
 * one family alone first, else all of them, then as few as still pass. */
static int find_fallbacks(vkr_ctx *vk, const eng_check_ref *ref, eng_selftest_result *r, uint32_t *out) {
    eng_check_result cr;
    for (int i = 0; i < VKR_KERNEL_FAMILIES; i++)
        if (attempt(vk, ref, 1u << i, r, &cr) == 0) {
            *out = 1u << i;
            return 0;
        }
    uint32_t all = (1u << VKR_KERNEL_FAMILIES) - 1;
    if (attempt(vk, ref, all, r, &cr) != 0) return -1;
    for (int i = 0; i < VKR_KERNEL_FAMILIES; i++)
        if (attempt(vk, ref, all & ~(1u << i), r, &cr) == 0) all &= ~(1u << i);
    *out = all;
    return 0;
}

int eng_selftest_cached(vkr_ctx *vk) {
    eng_selftest_result r;
    memset(&r, 0, sizeof r);
    verdict_path(vk, r.path, sizeof r.path);
    return read_verdict(r.path, &r) == 0;
}

int eng_selftest_ensure(vkr_ctx *vk, int force, eng_selftest_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    verdict_path(vk, out->path, sizeof out->path);
    if (!force && read_verdict(out->path, out) == 0) {
        out->cached = 1;
        vkr_ctx_profile_mut(vk)->fallbacks = out->fallbacks;
        return 0;
    }
    double t0 = util_now_ms();
    eng_check_ref *ref = eng_check_ref_create(err, errlen);
    if (!ref) return -1;
    eng_check_result cr;
    int rc = attempt(vk, ref, 0, out, &cr);
    if (rc != 0 && strstr(cr.message, "could not run")) {
        snprintf(err, errlen, "self-test on %s: %s", vkr_ctx_device(vk)->name, cr.message);
        eng_check_ref_free(ref);
        return -1;
    }
    out->pass = rc == 0;
    if (!out->pass) snprintf(out->detail, sizeof out->detail, "%.255s", cr.message);
    uint32_t fb = 0;
    if (!out->pass && find_fallbacks(vk, ref, out, &fb) != 0) {
        snprintf(err, errlen,
                 "%s (%s) fails phi3vk's self-test with its own kernels (%s) and with the portable ones: results "
                 "on it would be wrong. Use another device (phi3vk devices) or another driver version",
                 vkr_ctx_device(vk)->name, vkr_ctx_device(vk)->driver_info, out->detail);
        eng_check_ref_free(ref);
        vkr_ctx_profile_mut(vk)->fallbacks = 0;
        return -1;
    }
    eng_check_ref_free(ref);
    out->fallbacks = fb;
    vkr_ctx_profile_mut(vk)->fallbacks = fb;
    out->ms = util_now_ms() - t0;
    write_verdict(vk, out);
    return 0;
}

vkr_ctx *eng_device_open(const vkr_ctx_opts *o, int no_self_test, eng_selftest_result *st,
                         void (*on_test)(void *user, const vkr_ctx *vk), void *user, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    vkr_ctx *vk = vkr_ctx_create(o, err, errlen);
    if (!vk || no_self_test) return vk;
    if (on_test && !eng_selftest_cached(vk)) on_test(user, vk);
    if (eng_selftest_ensure(vk, 0, st, err, errlen)) {
        vkr_ctx_destroy(vk);
        return NULL;
    }
    return vk;
}
