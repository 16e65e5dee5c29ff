/* phi3vk devices [--json]: the Vulkan devices and what phi3vk needs of them. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/selftest.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "vk/vkr.h"

static const char *usage_text =
    "usage: phi3vk devices [--json] [--check [--device N|NAME] [--device-profile P]]\n"
    "\n"
    "Lists every Vulkan device: name, vendor, type, driver, Vulkan version, memory heaps,\n"
    "fp16 arithmetic, 16-bit storage, subgroup size and operations, buffer limits and shared\n"
    "memory. The device marked '*' is the one other commands use by default (discrete >\n"
    "integrated > virtual > CPU); choose another with --device INDEX|NAME.\n"
    "\n"
    "  --json              print the same as a JSON array\n"
    "  --check             also run, on every device (or the --device one), the subgroup probe\n"
    "                      (the subgroup size the device reports against the lanes that run)\n"
    "                      and the kernel self-test that model commands run once per device,\n"
    "                      driver and phi3vk build: a small Phi-3 against a C reference with\n"
    "                      the device profile's kernels, kernels that fail it switched to\n"
    "                      their portable variant. The verdict is saved for model commands.\n"
    "                      Exit status 1 when a device fails even with the portable kernels.\n"
    "  --device N|NAME     only this device (with --check)\n"
    "  --device-profile P  test the kernels of device class P (auto, cpu, nvidia, amd, intel,\n"
    "                      gpu; default: from the device, or PHI3VK_DEVICE_PROFILE)\n";

static const char *yes(int v) { return v ? "yes" : "no"; }

static void subgroup_ops_str(uint32_t ops, char *buf, size_t len) {
    static const char *names[] = {"basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative",
                                  "clustered", "quad"};
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8 && off < len; i++)
        if (ops & (1u << i)) off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]);
}

static cJSON *device_json(const vkr_device_info *d, int is_default) {
    char ver[32], api[32], ops[128];
    vkr_driver_version_str(d, ver, sizeof ver);
    vkr_api_version_str(d, api, sizeof api);
    subgroup_ops_str(d->subgroup_ops, ops, sizeof ops);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", d->index);
    cJSON_AddBoolToObject(o, "default", is_default);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "vendor", d->vendor);
    cJSON_AddNumberToObject(o, "vendor_id", d->vendor_id);
    cJSON_AddNumberToObject(o, "device_id", d->device_id);
    cJSON_AddStringToObject(o, "type", d->type);
    cJSON_AddStringToObject(o, "driver_name", d->driver_name);
    cJSON_AddStringToObject(o, "driver_info", d->driver_info);
    cJSON_AddStringToObject(o, "driver_version", ver);
    cJSON_AddStringToObject(o, "vulkan_version", api);
    cJSON *heaps = cJSON_AddArrayToObject(o, "heaps");
    for (int i = 0; i < d->n_heaps; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "bytes", (double)d->heap_size[i]);
        cJSON_AddBoolToObject(h, "device_local", d->heap_device_local[i]);
        cJSON_AddItemToArray(heaps, h);
    }
    cJSON_AddBoolToObject(o, "fp16_arithmetic", d->fp16_arith);
    cJSON_AddBoolToObject(o, "storage_16bit", d->storage16);
    cJSON_AddBoolToObject(o, "push_descriptor", d->push_descriptor);
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddNumberToObject(o, "subgroup_size_min", d->min_subgroup_size);
    cJSON_AddNumberToObject(o, "subgroup_size_max", d->max_subgroup_size);
    cJSON_AddStringToObject(o, "subgroup_ops", ops);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddNumberToObject(o, "max_memory_allocation_size", (double)d->max_alloc_size);
    cJSON_AddNumberToObject(o, "max_texel_buffer_elements", d->max_texel_elements);
    cJSON_AddNumberToObject(o, "shared_memory_bytes", d->shared_memory);
    cJSON_AddBoolToObject(o, "timestamps", d->timestamps);
    return o;
}

static void device_text(const vkr_device_info *d, int is_default) {
    char ver[32], ops[128];
    vkr_driver_version_str(d, ver, sizeof ver);
    char api[32];
    vkr_api_version_str(d, api, sizeof api);
    subgroup_ops_str(d->subgroup_ops, ops, sizeof ops);
    printf("%c[%d] %s\n", is_default ? '*' : ' ', d->index, d->name);
    printf("    vendor        %s (0x%04x), device 0x%04x, type %s\n", d->vendor, d->vendor_id, d->device_id, d->type);
    printf("    driver        %s %s (%s)\n", d->driver_name, ver, d->driver_info);
    printf("    vulkan        %s\n", api);
    for (int i = 0; i < d->n_heaps; i++)
        printf("    heap %d        %.2f GiB%s\n", i, d->heap_size[i] / 1073741824.0,
               d->heap_device_local[i] ? " device-local" : "");
    printf("    fp16 math     %s; 16-bit storage %s; push descriptors %s\n", yes(d->fp16_arith), yes(d->storage16),
           yes(d->push_descriptor));
    printf("    subgroup      %u (min %u, max %u): %s\n", d->subgroup_size, d->min_subgroup_size, d->max_subgroup_size,
           ops);
    printf("    limits        storage buffer %.0f MiB, allocation %.0f MiB, texel buffer %u elements, shared "
           "memory %u KiB\n",
           d->max_storage_buffer_range / 1048576.0, d->max_alloc_size / 1048576.0, d->max_texel_elements,
           d->shared_memory / 1024);
}

/* The probe and the self-test of device index i: fills check (a JSON
 * object) and prints a few lines unless json. Returns 0, or 1 when the
 * device is refused or could not be tested. */
static int check_device(int i, const char *profile, int json, cJSON *check) {
    char sel[16], err[2048];
    snprintf(sel, sizeof sel, "%d", i);
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.device = sel, .quiet = 1, .device_profile = profile}, err,
                                 sizeof err);
    if (!vk) {
        cJSON_AddStringToObject(check, "error", err);
        if (!json) printf("    check         cannot use it: %s\n", err);
        return 1;
    }
    vkr_subgroup_facts f;
    if (vkr_subgroup_probe(vk, &f) == 0) {
        cJSON *p = cJSON_AddObjectToObject(check, "subgroup_probe");
        cJSON_AddNumberToObject(p, "invocations", f.invocations);
        cJSON_AddNumberToObject(p, "reported", f.reported);
        cJSON_AddNumberToObject(p, "lanes", f.lanes);
        cJSON_AddNumberToObject(p, "subgroups", f.subgroups);
        int ok = f.reported == f.lanes && f.lanes * f.subgroups == f.invocations;
        cJSON_AddBoolToObject(p, "consistent", ok);
        if (!json)
            printf("    probe         gl_SubgroupSize %u, %u lanes run, %u subgroups of %u invocations%s\n",
                   f.reported, f.lanes, f.subgroups, f.invocations,
                   ok ? "" : ": the driver reports a subgroup size it does not run (phi3vk's kernels do not rely on it)");
    }
    eng_selftest_result r;
    int rc = eng_selftest_ensure(vk, 1, &r, err, sizeof err);
    char names[128];
    eng_selftest_names(r.fallbacks, names, sizeof names);
    cJSON_AddStringToObject(check, "device_profile", vkr_ctx_profile(vk)->name);
    cJSON_AddStringToObject(check, "quirks", vkr_ctx_profile(vk)->quirks);
    if (!json && vkr_ctx_profile(vk)->quirks[0]) printf("    quirks        %s\n", vkr_ctx_profile(vk)->quirks);
    cJSON_AddStringToObject(check, "self_test", rc ? "refused" : r.pass ? "pass" : "fallback");
    cJSON_AddStringToObject(check, "fallbacks", rc ? "" : names);
    cJSON_AddStringToObject(check, "detail", rc ? err : r.detail);
    cJSON_AddNumberToObject(check, "runs", r.runs);
    cJSON_AddNumberToObject(check, "ms", r.ms);
    if (!json) {
        if (rc) printf("    self-test     REFUSED: %s\n", err);
        else if (r.pass)
            printf("    self-test     pass with the %s profile's kernels (%d run, %.0f ms)\n", vkr_ctx_profile(vk)->name,
                   r.runs, r.ms);
        else
            printf("    self-test     %s kernel failed (%s): the portable variant is used (%d runs, %.0f ms)\n",
                   names, r.detail, r.runs, r.ms);
    }
    vkr_ctx_destroy(vk);
    return rc ? 1 : 0;
}

int cmd_devices(int argc, char **argv) {
    int json = 0, check = 0;
    const char *only = NULL, *profile = getenv("PHI3VK_DEVICE_PROFILE");
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--check")) {
            check = 1;
        } else if (cli_opt("devices", argc, argv, &i, "--device", &v)) {
            if (!v) return 2;
            only = v;
        } else if (cli_opt("devices", argc, argv, &i, "--device-profile", &v)) {
            if (!v || cli_check_device_profile("devices", v)) return 2;
            profile = v;
        } else {
            cli_error("devices", "unknown option '%s'\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (only && !check) {
        cli_error("devices", "--device goes with --check (the list shows every device)");
        return 2;
    }
    vkr_device_info *devs = NULL;
    int n = 0;
    char err[512];
    if (vkr_devices_list(&devs, &n, err, sizeof err)) {
        cli_error("devices", "%s", err);
        return 1;
    }
    int def = vkr_devices_pick(devs, n), pick = -1, rc = 0;
    if (only && (pick = vkr_devices_match(devs, n, only, err, sizeof err)) < 0) {
        cli_error("devices", "%s", err);
        free(devs);
        return 2;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    for (int i = 0; i < n; i++) {
        if (pick >= 0 && i != pick) continue;
        cJSON *o = device_json(&devs[i], i == def);
        if (!json) device_text(&devs[i], i == def);
        if (check) rc |= check_device(i, profile, json, cJSON_AddObjectToObject(o, "check"));
        if (json) cJSON_AddItemToArray(arr, o);
        else cJSON_Delete(o);
    }
    if (json) {
        char *s = cJSON_Print(arr);
        puts(s);
        free(s);
        cJSON_Delete(arr);
    }
    free(devs);
    return rc;
}
