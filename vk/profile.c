/* Device profiles: the kernel choices for each class of device (vkr.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vkr_internal.h"

const char *const vkr_device_profile_names[] = {"cpu", "nvidia", "amd", "intel", "gpu", NULL};
const char *const vkr_kernel_names[VKR_KERNEL_FAMILIES] = {"matvec", "prefill", "attention", "rmsnorm", "argmax"};

/* Prefill FLOPs per queue submission: a discrete GPU runs our fp32 tiled
 * matmul at a few TFLOP/s, an integrated one at a few hundred GFLOP/s, so
 * these keep a submission around 100-300 ms, well under the 2 s of Windows'
 * TDR and the few seconds of Linux GPU reset timeouts. */
#define SUBMIT_FLOPS_DISCRETE 5e11
#define SUBMIT_FLOPS_INTEGRATED 1e11

static const char *from_device(const vkr_device_info *d) {
    if (d->is_cpu) return "cpu";
    switch (d->vendor_id) {
    case 0x10DE: return "nvidia";
    case 0x1002: return "amd";
    case 0x8086: return "intel";
    default: return "gpu";
    }
}

/* What every GPU profile shares: storage-buffer loads, shared-memory tiles,
 * matvec up to 8 tokens, 256-invocation reductions, split decode attention. */
static void gpu_common(const vkr_device_info *d, vkr_device_profile *p) {
    int integrated = !strcmp(d->type, "integrated");
    p->uma = integrated;
    p->storage_loads = 1;
    p->matvec_rows = 2;
    p->matvec_max_tokens = 8;
    p->tiled_prefill = 1;
    p->attn_lanes_per_key = 4;
    p->attn_key_slots = 8;
    p->attn_rows = 4;
    p->attn_split_tokens = 256;
    p->rmsnorm_wg = 256;
    p->argmax_wg = 256;
    p->submit_flops = integrated || d->is_cpu ? SUBMIT_FLOPS_INTEGRATED : SUBMIT_FLOPS_DISCRETE;
}

/* The Mesa major version in driverInfo ("Mesa 25.0.7-2 (LLVM 15.0.6)"), 0
 * when there is none. */
static int mesa_major(const vkr_device_info *d) {
    const char *m = strstr(d->driver_info, "Mesa ");
    return m ? atoi(m + 5) : 0;
}

/* Workarounds for drivers, whatever the profile (README, "Driver quirks").
 * Mesa 25.0's lavapipe gets texel-buffer loads inside subgroup loops wrong
 * (wrong sums at 512 bits, crashes at 128, 1024 and 2048 bits), so kernels
 * read through storage buffers there, tensors past maxStorageBufferRange a
 * range of rows per dispatch (kernels/matmul.c, misc.c). Past 16 lanes lavapipe (22.3 too) reports 32 / 64
 * and runs 16. */
static void quirks(const vkr_device_info *d, vkr_device_profile *p) {
    /* The planned width is what runs when the device pins it or has no other. */
    int pinnable = d->subgroup_size_control && p->subgroup >= d->min_subgroup_size && p->subgroup <= d->max_subgroup_size;
    int only = d->min_subgroup_size == d->max_subgroup_size && d->subgroup_size == p->subgroup;
    p->exact_subgroup = pinnable || only;
    if (strcmp(d->driver_name, "llvmpipe")) return;
    if (mesa_major(d) >= 25) p->storage_loads = 1;
    if (d->subgroup_size > 16) p->exact_subgroup = 0;
    char wide[48] = "";
    if (d->subgroup_size > 16) snprintf(wide, sizeof wide, "reports %u lanes, runs 16", d->subgroup_size);
    if (p->storage_loads && p->cpu) /* (GPU profiles read through storage buffers anyway) */
        snprintf(p->quirks, sizeof p->quirks, "lavapipe %d: storage-buffer loads%s%s", mesa_major(d),
                 wide[0] ? "; " : "", wide);
    else if (wide[0])
        snprintf(p->quirks, sizeof p->quirks, "lavapipe %s", wide);
}

int vkr_device_profile_pick(const vkr_device_info *d, const char *name, vkr_device_profile *out, char *err,
                            size_t errlen) {
    memset(out, 0, sizeof *out);
    out->forced = name && *name && strcmp(name, "auto") != 0;
    const char *pick = out->forced ? name : from_device(d);
    int known = 0;
    for (int i = 0; vkr_device_profile_names[i]; i++) known |= !strcmp(pick, vkr_device_profile_names[i]);
    if (!known) {
        snprintf(err, errlen, "unknown device profile '%s': expected auto, cpu, nvidia, amd, intel or gpu", pick);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", pick);
    uint32_t sg = d->subgroup_size ? d->subgroup_size : 1;
    if (!strcmp(pick, "cpu")) {
        /* lavapipe measured: 8 rows per subgroup, 4 subgroups; matvec up to 4
         * tokens, register blocking beyond; one subgroup per reduction. */
        out->cpu = 1;
        out->uma = 1;
        out->subgroup = sg;
        out->matvec_rows = 8;
        out->matvec_subgroups = 4;
        out->matvec_max_tokens = 4;
        out->rmsnorm_wg = sg;
        out->argmax_wg = sg;
        quirks(d, out);
        return 0;
    }
    gpu_common(d, out);
    if (!strcmp(pick, "nvidia")) {
        out->subgroup = 32;
    } else if (!strcmp(pick, "amd")) {
        out->subgroup = 64;      /* matvec in wave64; attention asks for 32 lanes where it can */
    } else if (!strcmp(pick, "intel")) {
        out->subgroup = 16;
        out->attn_key_slots = 4; /* 4 lanes x 4 keys fill 16 lanes */
    } else {
        out->subgroup = sg;
        out->attn_lanes_per_key = sg < 4 ? sg : 4;
        out->attn_key_slots = sg / out->attn_lanes_per_key > 8 ? 8 : sg / out->attn_lanes_per_key;
    }
    out->matvec_subgroups = 256 / out->subgroup ? 256 / out->subgroup : 1;
    /* A pinned size allows at most maxComputeWorkgroupSubgroups per workgroup. */
    uint32_t most = d->max_workgroup_subgroups ? d->max_workgroup_subgroups : 32;
    if (out->matvec_subgroups > most) out->matvec_subgroups = most;
    quirks(d, out);
    return 0;
}
