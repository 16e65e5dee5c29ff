/* The self-test a device passes before phi3vk's model commands first use it.
 *
 * Drivers have bugs, and a kernel variant that is right on one GPU can
 * compute garbage on another. Before a device is first used with a given
 * driver, subgroup size, device profile and phi3vk build, the bench's
 * attestation model (bench/check.h: a 2-layer Phi-3 with Phi-3-mini's
 * head_dim, prompt and greedy decode against a C reference) is run with the
 * kernels the profile chose. When it fails, each kernel family
 * (vkr_kernel_names) is switched to its portable variant in turn to find
 * the one(s) at fault; those stay on their portable variant. When even the
 * all-portable run fails, the device is refused.
 *
 * The verdict is kept in the pipeline-cache folder (vkr_ctx_cache_dir) as
 * selftest-<device uuid>-<driver version>-sg<subgroup>-<profile>-<build>.txt,
 * so a device costs the test once; lavapipe reports the same driver version
 * at every LP_NATIVE_VECTOR_WIDTH, hence the subgroup size in the key. */
#ifndef PHI3VK_BENCH_SELFTEST_H
#define PHI3VK_BENCH_SELFTEST_H
#include <stddef.h>
#include <stdint.h>

#include "vk/vkr.h"

typedef struct eng_selftest_result {
    int cached;          /* the verdict came from the cache file; nothing ran */
    int pass;            /* the profile's own kernels passed */
    uint32_t fallbacks;  /* VKR_KERNEL_* families now on their portable variant */
    int runs;            /* attestation runs made (0 when cached) */
    double ms;           /* wall time (0 when cached) */
    char detail[256];    /* the first failure: "greedy id 3: ..." or "logits nmse ..." */
    char path[1100];     /* the verdict file ("" without a cache folder) */
} eng_selftest_result;

/* Applies the device's verdict to vk's profile (vkr_ctx_profile_mut:
 * fallbacks), running the self-test first when no verdict is cached for
 * this device, driver, subgroup size, profile and build, or when force is
 * set. Returns 0 when vk can be used (as is, or with fallbacks; out says
 * which), -1 with a message in err when no kernel set passes (the device is
 * refused) or the test could not run. */
int eng_selftest_ensure(vkr_ctx *vk, int force, eng_selftest_result *out, char *err, size_t errlen);

/* 1 when a usable verdict for vk (device, driver, subgroup size, profile,
 * build) is cached, so eng_selftest_ensure will not run the test. */
int eng_selftest_cached(vkr_ctx *vk);

/* A device ready for models: the Vulkan context for o, given its self-test
 * verdict unless no_self_test (the test runs when none is cached; before it
 * does, on_test(user, vk) is called when set: a caller's progress note).
 * Returns NULL with err when the context cannot be made or the device is
 * refused; *st says what the self-test found (zeroed with no_self_test). */
vkr_ctx *eng_device_open(const vkr_ctx_opts *o, int no_self_test, eng_selftest_result *st,
                         void (*on_test)(void *user, const vkr_ctx *vk), void *user, char *err, size_t errlen);

/* "matvec, attention" for a fallback mask ("none" when 0). */
void eng_selftest_names(uint32_t fallbacks, char *buf, size_t len);

#endif
