/* The Vulkan runtime: device choice, feature errors, the pipeline cache,
 * buffers, re-submission without re-recording, profiling, and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/vktest.h"
#include "vk/ops.h"

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

    /* Without shaderFloat16 every kernel still runs (fp32 arithmetic). */
    c = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1, .mask_fp16 = 1}, err, sizeof err);
    CHECK(c != NULL, "masked fp16: %s", err);
    if (!c) return;
    CHECK(vkr_ctx_fp16(c) == 0, "fp16 arithmetic reported off");
    float w[16 * 24], x[24], y[16] = {0}, want[16];
    test_rng r = {5};
    for (int i = 0; i < 16 * 24; i++) w[i] = test_rng_normal(&r) * 0.1f;
    for (int i = 0; i < 24; i++) x[i] = test_rng_normal(&r);
    vkt_round_f16(w, 16 * 24), vkt_round_f16(x, 24);
    for (int i = 0; i < 16; i++) {
        double s = 0;
        for (int k = 0; k < 24; k++) s += (double)w[i * 24 + k] * x[k];
        want[i] = (float)s;
    }
    vkr_buffer *bw = vkt_weight(c, "w", w, 16, 24), *bx = vkt_f16(c, "x", x, 1, 24), *by = vkt_raw(c, "y", y, sizeof y);
    vkr_cmd *cmd = vkr_cmd_create(c, "fp16-off");
    vkr_cmd_begin(cmd);
    vkr_op_matmul(cmd, &(vkr_matmul_args){.weight = bw, .x = bx, .out = by, .n_out = 16, .n_in = 24, .n_tokens = 1});
    CHECK(!vkr_cmd_end(cmd) && !vkr_cmd_run(cmd) && !vkr_buffer_read(c, by, 0, y, sizeof y), "run: %s",
          vkr_ctx_error(c));
    CHECK(test_nmse(y, want, 16) < 1e-10, "matvec without fp16 arithmetic: nmse %g", test_nmse(y, want, 16));
    vkr_cmd_destroy(c, cmd);
    vkr_buffer_destroy(c, bw), vkr_buffer_destroy(c, bx), vkr_buffer_destroy(c, by);
    CHECK(vkt_ctx_done(c) == 0, "validation messages (fp16 masked)");
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
    vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){.weight = bw, .x = bx, .out = by, .n = n, .n_tokens = 1, .eps = 0});
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
    vkr_op_rmsnorm(cmd, &(vkr_rmsnorm_args){.weight = bx, .x = bx, .out = by, .n = n, .n_tokens = 1, .eps = 0});
    CHECK(vkr_cmd_end(cmd) == -1 && strstr(vkr_ctx_error(c), "expected a weight buffer"), "wrong binding: %s",
          vkr_ctx_error(c));
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
        vkr_op_silu_mul(cmd, &(vkr_silu_mul_args){.gate_up = bg, .out = bh, .n_ff = ff, .n_tokens = 1});
        vkr_op_matmul(cmd, &(vkr_matmul_args){.weight = bw, .x = bh, .out = by, .n_out = n, .n_in = ff, .n_tokens = 1});
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

int main(void) {
    test_sync_validation();
    test_selection();
    test_feature_errors();
    test_resubmit_profile_errors();
    test_pipeline_cache();
    return test_finish();
}
