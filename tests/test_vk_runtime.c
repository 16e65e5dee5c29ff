/* The Vulkan runtime: device choice, feature errors, the pipeline cache,
 * buffers, re-submission without re-recording, profiling, and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/vktest.h"
#include "kernels/kernels.h"

static vkr_device_info fake(const char *name, const char *type, uint64_t mem) {
    vkr_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.type, sizeof d.type, "%s", type);
    d.device_local_bytes = mem;
    return d;
}

static void test_selection(void) {
    vkr_device_info d[4] = {fake("llvmpipe (LLVM 15)", "cpu", 2ull << 30), fake("Intel(R) UHD 770", "integrated", 4ull << 30),
                            fake("AMD Radeon RX 7900 XTX", "discrete", 24ull << 30), fake("virtio-gpu", "virtual", 1ull << 30)};
    CHECK(vkr_devices_pick(d, 4) == 2, "discrete GPU first");
    CHECK(vkr_devices_pick(d, 2) == 1, "integrated before CPU");
    vkr_device_info cpu_virt[2] = {d[0], d[3]};
    CHECK(vkr_devices_pick(cpu_virt, 2) == 1, "virtual before CPU");
    CHECK(vkr_devices_pick(d, 1) == 0, "CPU when nothing else");
    CHECK(vkr_devices_pick(d, 0) == -1, "no device");
    char err[512];
    CHECK(vkr_devices_match(d, 4, "1", err, sizeof err) == 1, "index");
    CHECK(vkr_devices_match(d, 4, "radeon", err, sizeof err) == 2, "name substring, any case");
    CHECK(vkr_devices_match(d, 4, "7", err, sizeof err) == -1 && strstr(err, "no device with that index"),
          "out-of-range index: %s", err);
    CHECK(vkr_devices_match(d, 4, "geforce", err, sizeof err) == -1 && strstr(err, "AMD Radeon"),
          "unknown name lists the devices: %s", err);

    vkr_device_info *real = NULL;
    int n = 0;
    CHECK(vkr_devices_list(&real, &n, err, sizeof err) == 0 && n >= 1, "list: %s", err);
    for (int i = 0; i < n; i++)
        CHECK(real[i].storage16 && real[i].subgroup_size > 0 && real[i].max_storage_buffer_range > 0,
              "device %d reports its capabilities", i);
    free(real);
}

static void test_feature_errors(void) {
    char err[1024];
    vkr_ctx *c = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1, .mask_storage16 = 1}, err,
                                sizeof err);
    CHECK(c == NULL && strstr(err, "unsupported device: missing storageBuffer16BitAccess"),
          "masked 16-bit storage: %s", c ? "created" : err);
    vkr_ctx_destroy(c);
    c = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1, .device = "no-such-gpu"}, err,
                       sizeof err);
    CHECK(c == NULL && strstr(err, "no-such-gpu"), "bad --device: %s", err);
    vkr_ctx_destroy(c);
}

/* A recorded command buffer re-submitted after the host changed its input:
 * the result follows the input, with no re-recording. */
static void test_resubmit_profile_errors(void) {
    char err[1024];
    vkr_ctx *c = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1, .profile = 1}, err,
                                sizeof err);
    CHECK(c != NULL, "ctx: %s", err);
    if (!c) return;
    const uint32_t n = 40;
    float w[40], xv[40], y[40];
    for (uint32_t i = 0; i < n; i++) w[i] = 1.0f;
    vkr_buffer *bw = vkt_weight(c, "norm", w, 1, n);
    vkr_buffer *bx = vkr_buffer_create(c, "x", n * 4, VKR_BUF_HOST);
    vkr_buffer *by = vkt_f16(c, "y", NULL, 1, n);
    vkr_cmd *cmd = vkr_cmd_create(c, "resubmit");
    CHECK(bx && vkr_buffer_map(bx), "host buffers are mapped");
    vkr_cmd_begin(cmd);
    kern_rmsnorm(cmd, &(kern_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = n, .n_tokens = 1, .eps = 0});
    CHECK(vkr_cmd_end(cmd) == 0, "record: %s", vkr_ctx_error(c));
    for (int round = 1; round <= 3; round++) {
        for (uint32_t i = 0; i < n; i++) xv[i] = (i == (uint32_t)round) ? 1.0f : 0.0f;
        memcpy(vkr_buffer_map(bx), xv, sizeof xv);
        CHECK(vkr_cmd_run(cmd) == 0 && vkt_read_f16(c, by, y, 1, n) == 0, "run %d", round);
        /* rmsnorm of a one-hot vector of length 40: sqrt(40) at the hot index */
        CHECK(y[round] > 6.3f && y[round] < 6.33f && y[0] == 0.0f, "round %d: y[%d] = %g", round, round, y[round]);
    }
    vkr_op_time t[8];
    int k = vkr_cmd_profile(cmd, t, 8);
    CHECK(k == 1 && !strcmp(t[0].label, "rmsnorm") && t[0].ms >= 0, "profile: %d entries", k);

    /* Errors name the buffer and the limits. */
    const vkr_device_info *d = vkr_ctx_device(c);
    vkr_buffer *big = vkr_buffer_create(c, "too-big", d->max_storage_buffer_range + 16, VKR_BUF_DEVICE);
    CHECK(!big && strstr(vkr_ctx_error(c), "too-big") && strstr(vkr_ctx_error(c), "maxStorageBufferRange"),
          "oversized storage buffer: %s", vkr_ctx_error(c));
    vkr_buffer *odd = vkr_buffer_create(c, "odd-weight", 20, VKR_BUF_WEIGHT);
    CHECK(!odd && strstr(vkr_ctx_error(c), "odd-weight"), "weight not a multiple of 16: %s", vkr_ctx_error(c));
    /* A dispatch with a buffer of the wrong kind fails the recording. */
    vkr_cmd_begin(cmd);
    kern_rmsnorm(cmd, &(kern_rmsnorm_args){.weight = bx, .x = bx, .out = by, .n = n, .n_tokens = 1, .eps = 0});
    CHECK(vkr_cmd_end(cmd) == -1 && strstr(vkr_ctx_error(c), "expected a weight buffer"), "wrong binding: %s",
          vkr_ctx_error(c));
    /* A range a binding cannot take fails the recording and says why, with
     * the buffer, the range and the device's limits. */
    vkr_pipeline *rms = vkr_pipeline_get(c, &(vkr_pipeline_desc){
        .shader = "rmsnorm", .bindings = "Trw", .push_size = 16, .spec = {8}, .n_spec = 1});
    vkr_pipeline *mm = vkr_pipeline_get(c, &(vkr_pipeline_desc){
        .shader = "matmul", .bindings = "TXw", .push_size = 32, .spec = {64, 4, 8}, .n_spec = 3});
    CHECK(rms && mm, "pipelines: %s", vkr_ctx_error(c));
    uint32_t push[8] = {0};
    uint32_t align = d->storage_offset_align;
    struct {
        const char *what, *why, *where;
        vkr_pipeline *p;
        vkr_range r[3];
    } bad[] = {
        {"a range on a weight's texel binding", "a texel or uniform binding takes the whole buffer", "binding 0: norm",
         rms, {{16, 16}}},
        {"a range on a texel view of x", "a texel or uniform binding takes the whole buffer", "binding 1: y", mm,
         {{0, 0}, {0, 16}}},
        {"a range past the end", "past the end of the buffer", "binding 2: y", rms, {{0, 0}, {0, 0}, {16, 1u << 20}}},
        {"an unaligned offset", "offset not a multiple of minStorageBufferOffsetAlignment", "binding 2: y", rms,
         {{0, 0}, {0, 0}, {align > 1 ? align / 2 : 0, 0}}},
    };
    for (size_t i = 0; rms && mm && i < sizeof bad / sizeof bad[0]; i++) {
        if (i == 3 && align <= 1) continue; /* no alignment to miss on this device */
        vkr_buffer *b1 = bad[i].p == mm ? by : bx;
        vkr_cmd_begin(cmd);
        vkr_cmd_dispatch(cmd, &(vkr_dispatch){.pipeline = bad[i].p, .bind = {bw, b1, by}, .push = push,
                                              .range = {bad[i].r[0], bad[i].r[1], bad[i].r[2]}, .groups = {1}});
        const char *e = vkr_cmd_end(cmd) == -1 ? vkr_ctx_error(c) : "(recorded)";
        CHECK(strstr(e, bad[i].why) && strstr(e, bad[i].where) && strstr(e, d->name), "%s: %s", bad[i].what, e);
    }
    vkr_cmd_destroy(c, cmd);
    vkr_buffer_destroy(c, bw), vkr_buffer_destroy(c, bx), vkr_buffer_destroy(c, by);
    CHECK(vkt_ctx_done(c) == 0, "validation messages");
}

static void test_pipeline_cache(void) {
    char dir[] = "/tmp/phi3vk-pcache-XXXXXX", err[1024];
    if (!mkdtemp(dir)) return;
    for (int pass = 0; pass < 2; pass++) {
        vkr_ctx *c = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = dir, .quiet = 1}, err, sizeof err);
        CHECK(c != NULL, "ctx: %s", err);
        if (!c) return;
        vkr_pipeline *p = vkr_pipeline_get(c, &(vkr_pipeline_desc){
            .shader = "rmsnorm", .bindings = "Trw", .push_size = 16, .spec = {8}, .n_spec = 1});
        CHECK(p != NULL, "pipeline: %s", vkr_ctx_error(c));
        CHECK(vkr_pipeline_get(c, &(vkr_pipeline_desc){.shader = "no_such_shader", .bindings = "r"}) == NULL &&
                  strstr(vkr_ctx_error(c), "no_such_shader"),
              "unknown shader: %s", vkr_ctx_error(c));
        CHECK(vkt_ctx_done(c) == 0, "validation messages");
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls %s/pipelines-*.bin >/dev/null 2>&1", dir);
    CHECK(system(cmd) == 0, "pipeline cache file written to %s", dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

/* Synchronization validation is on: silu_mul writes a buffer that a matmul
 * then reads. Recorded with the automatic barrier, nothing is reported;
 * recorded without it (a planted bug), the layer reports the
 * read-after-write hazard. */
static void test_sync_validation(void) {
    vkr_ctx *c = vkt_ctx();
    const uint32_t ff = 64, n = 16;
    float gu[2 * 64], w[16 * 64];
    test_rng r = {11};
    for (uint32_t i = 0; i < 2 * ff; i++) gu[i] = test_rng_normal(&r);
    for (uint32_t i = 0; i < n * ff; i++) w[i] = test_rng_normal(&r) * 0.1f;
    vkr_buffer *bg = vkt_raw(c, "gate_up", gu, sizeof gu), *bh = vkt_f16(c, "h", NULL, 1, ff);
    vkr_buffer *bw = vkt_weight(c, "w", w, n, ff), *by = vkt_raw(c, "y", NULL, n * 4);
    vkr_cmd *cmd = vkr_cmd_create(c, "sync");
    for (int planted = 0; planted < 2; planted++) {
        int before = vkr_ctx_validation_messages(c);
        vkr_ctx_quiet_validation_for_test(c, planted);
        vkr_cmd_test_no_barriers(cmd, planted);
        vkr_cmd_begin(cmd);
        kern_silu_mul(cmd, &(kern_silu_mul_args){.gate_up = bg, .out = bh, .n_ff = ff, .n_tokens = 1});
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bh, .out = by, .n_out = n, .n_in = ff, .n_tokens = 1});
        CHECK(vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0, "run: %s", vkr_ctx_error(c));
        int seen = vkr_ctx_validation_messages(c) - before;
        if (!planted) CHECK(seen == 0, "with the barrier: %d validation messages", seen);
        else
            CHECK(seen > 0 && strstr(vkr_ctx_last_validation_message(c), "SYNC-HAZARD-READ"),
                  "without the barrier: expected a read-after-write hazard report, got %d messages (last: %s)", seen,
                  vkr_ctx_last_validation_message(c));
    }
    int planted_messages = vkr_ctx_validation_messages(c);
    vkr_cmd_destroy(c, cmd);
    vkr_buffer_destroy(c, bg), vkr_buffer_destroy(c, bh), vkr_buffer_destroy(c, bw), vkr_buffer_destroy(c, by);
    CHECK(vkt_ctx_done(c) == planted_messages, "no validation messages besides the planted hazard");
}

/* A recording cut at boundaries once the FLOPs since the last cut reach the
 * profile's budget: each part is its own submission, in order. rmsnorm
 * dispatches carry no FLOPs, so they are annotated through matmuls. */
static void test_submission_split(void) {
    vkr_ctx *c = vkt_ctx();
    float w[8 * 8], x[8], y[8];
    for (int i = 0; i < 64; i++) w[i] = i % 9 == 0 ? 1.0f : 0.0f; /* identity */
    for (int i = 0; i < 8; i++) x[i] = (float)(i + 1);
    vkr_buffer *bw = vkt_weight(c, "identity", w, 8, 8), *bx = vkt_f16(c, "x", x, 1, 8);
    vkr_buffer *by = vkt_raw(c, "y", NULL, sizeof y);
    vkr_cmd *cmd = vkr_cmd_create(c, "split");
    vkr_device_profile *p = vkr_ctx_profile_mut(c);
    p->submit_flops = 2.5 * 2 * 8 * 8; /* 2.5 matmuls of 8 x 8 */
    vkr_cmd_begin(cmd);
    for (int step = 0; step < 7; step++) { /* y += I x, seven times, a boundary after each */
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = 8, .n_in = 8, .n_tokens = 1,
                                              .accumulate = step > 0});
        vkr_cmd_boundary(cmd);
    }
    int ok = vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0 && vkr_buffer_read(c, by, 0, y, sizeof y) == 0;
    CHECK(ok, "run: %s", vkr_ctx_error(c));
    /* cuts after the 3rd and 6th matmul: 3 submissions */
    CHECK(vkr_cmd_submissions(cmd) == 3, "submissions: %d, expected 3", vkr_cmd_submissions(cmd));
    for (int i = 0; ok && i < 8; i++) CHECK(y[i] == 7.0f * (float)(i + 1), "y[%d] = %g across submissions", i, y[i]);
    p->submit_flops = 0; /* no budget: never cut */
    vkr_cmd_begin(cmd);
    for (int step = 0; step < 3; step++) {
        kern_matmul(cmd, &(kern_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = 8, .n_in = 8, .n_tokens = 1});
        vkr_cmd_boundary(cmd);
    }
    CHECK(vkr_cmd_end(cmd) == 0 && vkr_cmd_submissions(cmd) == 1, "no budget: %d submissions", vkr_cmd_submissions(cmd));
    vkr_cmd_destroy(c, cmd);
    vkr_buffer_destroy(c, bw), vkr_buffer_destroy(c, bx), vkr_buffer_destroy(c, by);
    CHECK(vkt_ctx_done(c) == 0, "validation messages (split)");
}

/* A lost device (a planted fault: every submission after the first fails
 * with VK_ERROR_DEVICE_LOST) names the device and the recording, and every
 * later submission fails the same way; out of memory at run time names the
 * device too. */
static void test_device_failures(void) {
    for (int kind = 0; kind < 2; kind++) {
        setenv("PHI3VK_TEST_FAULT", kind ? "oom@1" : "device-lost@1", 1);
        vkr_ctx *c = vkt_ctx();
        unsetenv("PHI3VK_TEST_FAULT");
        float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        vkr_buffer *bw = vkt_weight(c, "norm", w, 1, 8), *bx = vkt_raw(c, "x", w, sizeof w);
        vkr_buffer *by = vkt_f16(c, "y", NULL, 1, 8);
        vkr_cmd *cmd = vkr_cmd_create(c, "victim");
        vkr_cmd_begin(cmd);
        kern_rmsnorm(cmd, &(kern_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = 8, .n_tokens = 1, .eps = 0});
        CHECK(vkr_cmd_end(cmd) == 0 && vkr_cmd_run(cmd) == 0, "first run: %s", vkr_ctx_error(c));
        CHECK(vkr_cmd_run(cmd) == -1, "second run fails");
        const char *e = vkr_ctx_error(c), *dev = vkr_ctx_device(c)->name;
        if (!kind)
            CHECK(strstr(e, "device lost") && strstr(e, dev) && strstr(e, "victim"), "device lost: %s", e);
        else
            CHECK(strstr(e, "out of device memory") && strstr(e, dev) && strstr(e, "victim"), "oom: %s", e);
        if (!kind) CHECK(vkr_cmd_run(cmd) == -1 && strstr(vkr_ctx_error(c), "device lost"), "lost stays lost");
        vkr_cmd_destroy(c, cmd);
        vkr_buffer_destroy(c, bw), vkr_buffer_destroy(c, bx), vkr_buffer_destroy(c, by);
        CHECK(vkt_ctx_done(c) == 0, "validation messages (faults)");
    }
}

int main(void) {
    test_sync_validation();
    test_submission_split();
    test_device_failures();
    test_selection();
    test_feature_errors();
    test_resubmit_profile_errors();
    test_pipeline_cache();
    return test_finish();
}
