/* vkr: the Vulkan runtime of phi3vk.
 *
 * Owns the instance, one logical device and its compute queue, device memory,
 * pipelines built from the embedded SPIR-V (vk/shaders.h), and command
 * buffers that record a whole sequence of dispatches once and are
 * re-submitted many times.
 *
 * Conventions
 * - Every handle is opaque and created/destroyed in pairs; destroy accepts
 *   NULL. Buffers and pipelines belong to their vkr_ctx and must be destroyed
 *   (buffers) before it; pipelines are owned and freed by the context.
 * - Functions that can fail return 0 on success and -1 on failure (or NULL),
 *   and leave a message in vkr_ctx_error(): "file:line vkCall -> VK_ERROR_X"
 *   for Vulkan failures, or what was expected and what was found.
 * - Weights are rows of RGBA32UI texels (8 fp16 per texel), read as texel
 *   buffers or as storage buffers (the profile's storage_loads). A weight
 *   larger than one storage binding (maxStorageBufferRange, lavapipe 128 MiB;
 *   Phi-3's 32064x3072 fp16 lm_head is 197 MB) is bound a range of rows at
 *   a time (vkr_dispatch.range).
 * - Descriptors are pushed at record time (VK_KHR_push_descriptor); barriers
 *   between dispatches are inserted automatically from the bindings'
 *   read/write kinds (read-after-write and write-after-read hazards).
 */
#ifndef PHI3VK_VK_VKR_H
#define PHI3VK_VK_VKR_H

#include <stddef.h>
#include <stdint.h>

typedef struct vkr_ctx vkr_ctx;
typedef struct vkr_buffer vkr_buffer;
typedef struct vkr_pipeline vkr_pipeline;
typedef struct vkr_cmd vkr_cmd;

/* ---- devices ---------------------------------------------------------- */

#define VKR_MAX_HEAPS 16

/* Everything phi3vk reports about one physical device (plain data). */
typedef struct vkr_device_info {
    int index;                          /* position in vkEnumeratePhysicalDevices */
    char name[256];                     /* deviceName */
    uint32_t vendor_id, device_id;      /* PCI ids */
    char vendor[32];                    /* "NVIDIA", "AMD", "Intel", "Mesa", ... */
    char type[16];                      /* "discrete", "integrated", "virtual", "cpu", "other" */
    char driver_name[256];              /* VkPhysicalDeviceDriverProperties.driverName */
    char driver_info[256];              /* driverInfo (e.g. "Mesa 22.3.6 (LLVM 15.0.6)") */
    uint32_t driver_version;            /* raw driverVersion */
    uint32_t api_version;               /* VK_MAKE_API_VERSION */
    int n_heaps;
    uint64_t heap_size[VKR_MAX_HEAPS];  /* bytes */
    int heap_device_local[VKR_MAX_HEAPS];
    uint64_t device_local_bytes;        /* size of the largest device-local heap */
    int fp16_arith;                     /* shaderFloat16 (reported; phi3vk computes in fp32) */
    int storage16;                      /* storageBuffer16BitAccess */
    int push_descriptor;                /* VK_KHR_push_descriptor */
    int subgroup_size_control;          /* subgroupSizeControl + computeFullSubgroups */
    int subgroup_size_control_ext;      /* ... through VK_EXT_subgroup_size_control (Vulkan < 1.3) */
    uint8_t uuid[16];                   /* deviceUUID (self-test verdicts are kept per device) */
    uint32_t subgroup_size;             /* default subgroup size */
    uint32_t min_subgroup_size, max_subgroup_size;
    uint32_t max_workgroup_subgroups;   /* maxComputeWorkgroupSubgroups (0: no size control) */
    uint32_t subgroup_ops;              /* VkSubgroupFeatureFlags in compute (VKR_SUBGROUP_*) */
    uint64_t max_storage_buffer_range;  /* bytes */
    uint32_t storage_offset_align;      /* minStorageBufferOffsetAlignment, bytes */
    uint64_t max_alloc_size;            /* maxMemoryAllocationSize, bytes */
    uint32_t max_texel_elements;        /* maxTexelBufferElements */
    uint32_t max_uniform_range;         /* maxUniformBufferRange, bytes */
    uint32_t shared_memory;             /* maxComputeSharedMemorySize, bytes */
    uint32_t max_workgroup_invocations;
    int timestamps;                     /* timestampComputeAndGraphics */
    float timestamp_period;             /* ns per tick */
    int is_cpu;                         /* a software rasteriser (lavapipe, SwiftShader) */
    int has_pci;                        /* VK_EXT_pci_bus_info: the PCI address below is known */
    uint32_t pci_domain, pci_bus, pci_device, pci_function;
} vkr_device_info;

/* Bits of vkr_device_info.subgroup_ops (VkSubgroupFeatureFlagBits). */
#define VKR_SUBGROUP_ARITHMETIC 0x4u
#define VKR_SUBGROUP_SHUFFLE 0x10u

/* Lists every physical device. *out is malloc'ed (free() it); *n its length.
 * Returns 0, or -1 with a message in err (no Vulkan loader, no device). */
int vkr_devices_list(vkr_device_info **out, int *n, char *err, size_t errlen);

/* Driver version as the vendor writes it (NVIDIA 10.8.8.6, Intel Windows
 * 14.18, Mesa and others major.minor.patch). buf: >= 32 bytes. */
void vkr_driver_version_str(const vkr_device_info *d, char *buf, size_t len);

/* The device's Vulkan API version as "major.minor.patch". */
void vkr_api_version_str(const vkr_device_info *d, char *buf, size_t len);

/* The Vulkan loader's instance version (vkEnumerateInstanceVersion) as
 * "major.minor.patch", or "" before any context or device list has loaded
 * it. */
void vkr_loader_version_str(char *buf, size_t len);

/* Index of the device the default rule picks: discrete > integrated >
 * virtual > other > cpu. -1 when n == 0. */
int vkr_devices_pick(const vkr_device_info *devs, int n);

/* Resolves a --device selector: a decimal index, or a case-insensitive
 * substring of the name. Returns the index or -1 with a message in err. */
int vkr_devices_match(const vkr_device_info *devs, int n, const char *sel, char *err, size_t errlen);

/* ---- device profile -------------------------------------------------- */

/* How phi3vk runs on one device: decided once at context creation from the
 * device's facts, or forced by name so that every device class's kernel
 * choices can be run (and tested) on any device, lavapipe included. The ops
 * read their choices from here; nothing else tests the device type.
 *   cpu     CPU drivers (lavapipe, SwiftShader): a workgroup is one thread's
 *           SIMD loop; register-blocked prefill, texel/uniform loads
 *   nvidia  32-lane warps; storage-buffer loads, shared-memory tiles
 *   amd     wave64 (GCN) or wave32/64 (RDNA); as nvidia, 64-lane matvec
 *   intel   8/16/32-lane EUs, often unified memory; 16-lane matvec
 *   gpu     any other GPU (ARM, Qualcomm, Apple, ImgTec): the device's own
 *           subgroup size, conservative tiles
 * Correctness never depends on the profile: every kernel works at whatever
 * subgroup size the device runs (shaders/subgroup.glsl); the profile only
 * makes it fast. */
/* The kernel families whose variant a profile chooses; each has a portable
 * variant that needs nothing of the device beyond the Vulkan minimum
 * (matvec and prefill: the register-blocked matmul; attention: one lane per
 * query row; rmsnorm and argmax: one invocation per row), which the
 * self-test falls back to when the profile's variant computes wrong. */
enum {
    VKR_KERNEL_MATVEC = 1 << 0,
    VKR_KERNEL_PREFILL = 1 << 1,
    VKR_KERNEL_ATTENTION = 1 << 2,
    VKR_KERNEL_RMSNORM = 1 << 3,
    VKR_KERNEL_ARGMAX = 1 << 4,
};
#define VKR_KERNEL_FAMILIES 5
/* "matvec", "prefill", "attention", "rmsnorm", "argmax": bit i of the enum. */
extern const char *const vkr_kernel_names[VKR_KERNEL_FAMILIES];

typedef struct vkr_device_profile {
    char name[16];              /* one of the names above */
    int forced;                 /* chosen by name, not from the device */
    int cpu;                    /* CPU-driver kernels (see above) */
    int uma;                    /* device memory is host memory (integrated GPU, CPU driver) */
    uint32_t subgroup;          /* lanes the kernels are laid out for (pinned where the
                                   device has subgroup-size control and allows it) */
    int exact_subgroup;         /* the device runs exactly `subgroup` lanes (pinned, or
                                   its only size, and the driver not known to misreport):
                                   kernels may drop their paths for other widths */
    int storage_loads;          /* weights and KV cache read with storage-buffer vector
                                   loads (a weight past maxStorageBufferRange bound a range
                                   of its rows per dispatch); else texel buffers */
    uint32_t matvec_rows;       /* rows per subgroup pass of matvec */
    uint32_t matvec_subgroups;  /* subgroups per matvec workgroup (as planned) */
    uint32_t matvec_max_tokens; /* matvec up to this many tokens, then the prefill kernel */
    int tiled_prefill;          /* prefill by shared-memory tiles (else register-blocked) */
    uint32_t attn_lanes_per_key, attn_key_slots, attn_rows; /* attention layout (GPUs) */
    uint32_t attn_split_tokens; /* decode: one key range per this many cached tokens (0: none) */
    uint32_t rmsnorm_wg, argmax_wg; /* workgroup sizes */
    double submit_flops;        /* prefill: at most this many FLOPs per queue submission so a
                                   GPU watchdog (a few hundred ms) never fires; 0: no limit */
    uint32_t fallbacks;         /* VKR_KERNEL_* families run by their portable variant */
    char quirks[96];            /* driver workarounds in effect ("" when none; README,
                                   "Driver quirks") */
} vkr_device_profile;

/* The profile names, in the order above; NULL-terminated. */
extern const char *const vkr_device_profile_names[];

/* Fills *out for device d: name NULL, "" or "auto" picks from the device
 * (vendor, type), otherwise one of vkr_device_profile_names. Returns 0, or
 * -1 with "unknown device profile 'x': expected auto, cpu, ..." in err. */
int vkr_device_profile_pick(const vkr_device_info *d, const char *name, vkr_device_profile *out, char *err,
                            size_t errlen);

/* ---- context ---------------------------------------------------------- */

typedef struct vkr_ctx_opts {
    const char *device;      /* NULL: default rule; else index or name substring */
    int validate;            /* enable VK_LAYER_KHRONOS_validation + debug utils */
    int verbose;             /* print the chosen device and memory on stderr */
    int quiet;               /* don't print the "using a CPU device" note */
    const char *cache_dir;   /* pipeline cache folder; NULL: $PHI3VK_CACHE_DIR, else
                                $XDG_CACHE_HOME/phi3vk or ~/.cache/phi3vk; "" disables
                                the disk cache */
    int profile;             /* allocate timestamp queries for vkr_cmd_profile */
    int mask_storage16;      /* test hook: behave as if storageBuffer16BitAccess were absent */
    const char *device_profile; /* NULL/"auto": from the device; else a vkr_device_profile_names entry */
} vkr_ctx_opts;

/* Creates instance, device, queue, pools and the pipeline cache.
 * Returns NULL with a message in err (e.g. "unsupported device: missing
 * storageBuffer16BitAccess"). */
vkr_ctx *vkr_ctx_create(const vkr_ctx_opts *opts, char *err, size_t errlen);
/* Saves the pipeline cache, frees pipelines and every Vulkan object. */
void vkr_ctx_destroy(vkr_ctx *ctx);
const vkr_device_info *vkr_ctx_device(const vkr_ctx *ctx);
/* The device profile the context's kernels follow. */
const vkr_device_profile *vkr_ctx_profile(const vkr_ctx *ctx);
/* Switches the context to another profile (a vkr_device_profile_names entry
 * or "auto"): later recordings use its kernels; existing recordings keep
 * theirs. For tests and the self-test, which run every profile on one
 * device. Returns 0 or -1 with a message in vkr_ctx_error. */
int vkr_ctx_use_profile(vkr_ctx *ctx, const char *name);
/* The profile, to change a choice (the self-test's kernel fallbacks, tests
 * that shrink submit_flops); later recordings follow it. */
vkr_device_profile *vkr_ctx_profile_mut(vkr_ctx *ctx);
/* The last error message ("" if none). */
const char *vkr_ctx_error(const vkr_ctx *ctx);
/* Copies the last error into err (the convention of every layer above vk/:
 * a status and a message buffer) and returns -1, for `return
 * vkr_ctx_error_to(vk, err, errlen);`. */
int vkr_ctx_error_to(const vkr_ctx *ctx, char *err, size_t errlen);
/* The folder of the on-disk pipeline cache ("" when there is none): the
 * self-test keeps its verdicts beside it. */
const char *vkr_ctx_cache_dir(const vkr_ctx *ctx);
/* Validation-layer warnings and errors seen so far (each also printed),
 * synchronization hazards included. */
int vkr_ctx_validation_messages(const vkr_ctx *ctx);
/* The text of the last one ("" if none). */
const char *vkr_ctx_last_validation_message(const vkr_ctx *ctx);
/* Test hook: count validation messages without printing them (for tests
 * that provoke one on purpose). */
void vkr_ctx_quiet_validation_for_test(vkr_ctx *ctx, int on);
/* Test hook: lowers the device's maxStorageBufferRange as phi3vk sees it
 * (bytes, a multiple of 256; 0 restores the device's), so that the kernels'
 * paths for weights larger than one storage binding (row ranges bound one
 * part at a time) run at small sizes on any device. */
void vkr_ctx_limit_storage_range_for_test(vkr_ctx *ctx, uint64_t bytes);
/* Bytes of device memory currently allocated through this context. */
uint64_t vkr_ctx_allocated(const vkr_ctx *ctx);

/* What one workgroup of the subgroup probe saw: a conformant device has
 * reported == lanes == top_id and lanes * subgroups == invocations. lavapipe
 * at LP_NATIVE_VECTOR_WIDTH=1024 reports 32 and runs 16 (README, "Driver
 * quirks"); phi3vk's kernels work either way (shaders/subgroup.glsl). */
typedef struct vkr_subgroup_facts {
    uint32_t invocations;  /* workgroup size probed (128, or the device's maximum) */
    uint32_t reported;     /* gl_SubgroupSize in the shader */
    uint32_t lanes;        /* invocations that ran in subgroup 0 (subgroupAdd(1)) */
    uint32_t subgroups;    /* gl_NumSubgroups */
    uint32_t top_id;       /* largest gl_SubgroupInvocationID + 1 */
} vkr_subgroup_facts;
/* Runs the probe once. Returns 0, or -1 with vkr_ctx_error. */
int vkr_subgroup_probe(vkr_ctx *ctx, vkr_subgroup_facts *out);

/* ---- buffers ---------------------------------------------------------- */

typedef enum vkr_buffer_kind {
    VKR_BUF_DEVICE,  /* device-local storage buffer (activations, KV cache); with
                        a texel view too when size % 16 == 0 */
    VKR_BUF_WEIGHT,  /* device-local, read through an RGBA32UI texel view; may
                        exceed maxStorageBufferRange; size a multiple of 16 */
    VKR_BUF_HOST,    /* host-visible, coherent, persistently mapped storage
                        buffer: parameters, readback, small uploads */
} vkr_buffer_kind;

/* Creates a buffer of size bytes (> 0). name appears in debug tools and in
 * error messages. Fails with "out of device memory: <name> needs N MiB,
 * heap H has M MiB (A MiB already allocated)" when it cannot fit. */
vkr_buffer *vkr_buffer_create(vkr_ctx *ctx, const char *name, uint64_t size, vkr_buffer_kind kind);
void vkr_buffer_destroy(vkr_ctx *ctx, vkr_buffer *buf);
uint64_t vkr_buffer_size(const vkr_buffer *buf);
const char *vkr_buffer_name(const vkr_buffer *buf);
/* Tells the weight allocator that about `bytes` more weight bytes are
 * coming. Weights are sub-allocated from memory blocks of up to 1 GiB; with
 * this hint a new block is sized to what is still expected, so the driver
 * holds little more than the weights themselves (a Q4_K Phi-3-mini's 2.1
 * GB would otherwise take three whole 1 GiB blocks). A hint only. */
void vkr_weights_expect(vkr_ctx *ctx, uint64_t bytes);

/* A weight tensor on the device: a VKR_BUF_WEIGHT buffer that knows what it
 * holds, so the ops pick the kernel variant of its dtype and check shapes.
 * vk/ stores these facts; the layout of each dtype (row_bytes) is the
 * kernels' (kernels/kernels.h, kern_weight_*). */
typedef struct vkr_tensor_desc {
    uint32_t dtype;      /* ggml type id: FMT_GGML_F16, _Q8_0, _Q4_0, _Q4_K, _Q5_K, _Q6_K
                            (formats/quant.h) */
    uint32_t rows, cols; /* the matrix [rows, cols]; a 1-D weight is [1, cols] */
    uint64_t row_bytes;  /* device bytes per row, a multiple of 16 */
} vkr_tensor_desc;

/* Creates a VKR_BUF_WEIGHT buffer of rows * row_bytes bytes holding *t.
 * NULL with vkr_ctx_error on failure (as vkr_buffer_create, or a zero size
 * or a row_bytes that is not a multiple of 16). */
vkr_buffer *vkr_tensor_create(vkr_ctx *ctx, const char *name, const vkr_tensor_desc *t);
/* The tensor facts of a buffer made by vkr_tensor_create; NULL for other
 * buffers (a VKR_BUF_WEIGHT made by vkr_buffer_create is an fp16 weight of
 * unknown shape to the ops). */
const vkr_tensor_desc *vkr_buffer_tensor(const vkr_buffer *buf);

/* Host pointer of a VKR_BUF_HOST buffer (or of any buffer whose memory happens
 * to be host-visible, e.g. on CPU devices); NULL otherwise. */
void *vkr_buffer_map(const vkr_buffer *buf);

/* Copies host data into buf at offset (through the staging ring when buf is
 * not host-visible). Waits until the copy is complete. */
int vkr_buffer_write(vkr_ctx *ctx, vkr_buffer *buf, uint64_t offset, const void *src, uint64_t size);
/* Copies buf[offset, offset+size) to host memory; waits for completion. */
int vkr_buffer_read(vkr_ctx *ctx, vkr_buffer *buf, uint64_t offset, void *dst, uint64_t size);

/* Streaming upload through the staging ring without an extra host copy:
 * returns a pointer where the caller writes exactly size bytes that will land
 * in dst at dst_offset. size <= vkr_staging_chunk(ctx). Copies are batched and
 * overlap with the caller's next writes; vkr_staging_flush waits for all. */
void *vkr_staging_reserve(vkr_ctx *ctx, vkr_buffer *dst, uint64_t dst_offset, uint64_t size);
uint64_t vkr_staging_chunk(const vkr_ctx *ctx);
int vkr_staging_flush(vkr_ctx *ctx);

/* ---- pipelines -------------------------------------------------------- */

#define VKR_MAX_BINDINGS 8
#define VKR_MAX_SPEC 12

typedef struct vkr_pipeline_desc {
    const char *shader;            /* shaders/<shader>.comp; also the debug name */
    const char *bindings;          /* one char per binding 0..n-1:
                                      't' weight texel buffer (read-only),
                                      'T' the same through a storage texel
                                          buffer (GLSL readonly uimageBuffer
                                          rgba32ui, imageLoad): CPU drivers
                                          inline those loads,
                                      'r' storage buffer read by the shader,
                                      'w' storage buffer written (and maybe read),
                                      'u' uniform buffer: the first min(size,
                                          maxUniformBufferRange) bytes, read,
                                      'x' VKR_BUF_DEVICE buffer read through its
                                          RGBA32UI texel view (size % 16 == 0),
                                      'X' the same view as a read-only storage
                                          texel buffer (like 'T') */
    uint32_t push_size;            /* bytes of push constants (<= 128) */
    uint32_t spec[VKR_MAX_SPEC];   /* specialization constants, constant_id 0.. */
    uint32_t n_spec;
    uint32_t subgroup_size;        /* require this subgroup size when the device
                                      supports subgroup size control; 0 = any */
    int full_subgroups;            /* ask for full subgroups (REQUIRE_FULL_SUBGROUPS) where
                                      the device can and the workgroup size spec[0]
                                      holds whole subgroups; kernels are right either way */
    int portable;                  /* the portable variant of a kernel family (vkr.h,
                                      VKR_KERNEL_*): the PHI3VK_TEST_PLANT hook spares it */
} vkr_pipeline_desc;

/* A hash of every embedded shader (names and SPIR-V): with the version and
 * commit it identifies the phi3vk build whose kernels a self-test verdict
 * is about. */
uint64_t vkr_shaders_hash(void);

/* Returns a pipeline for desc, created on first use and then cached in the
 * context (same shader and constants -> same pipeline). Owned by ctx. */
vkr_pipeline *vkr_pipeline_get(vkr_ctx *ctx, const vkr_pipeline_desc *desc);

/* ---- command buffers -------------------------------------------------- */

/* A part of a buffer bound to a storage binding: size bytes from offset
 * (size 0: to the end). offset must be a multiple of the device's
 * minStorageBufferOffsetAlignment and the part at most
 * maxStorageBufferRange; texel bindings always see the whole buffer. */
typedef struct vkr_range {
    uint64_t offset, size;
} vkr_range;

typedef struct vkr_dispatch {
    vkr_pipeline *pipeline;
    vkr_buffer *bind[VKR_MAX_BINDINGS]; /* in the order of desc->bindings */
    vkr_range range[VKR_MAX_BINDINGS];  /* parts bound ({0, 0}: the whole buffer) */
    const void *push;                   /* desc->push_size bytes, copied */
    uint32_t groups[3];                 /* workgroup counts; 0 means 1 */
    const char *label;                  /* op name in profiles; NULL = shader name */
    double bytes, flops;                /* weight bytes read and FLOPs, for profiles (0: not counted) */
} vkr_dispatch;

/* A primary command buffer with its own fence (and query pool if profiling). */
vkr_cmd *vkr_cmd_create(vkr_ctx *ctx, const char *name);
void vkr_cmd_destroy(vkr_ctx *ctx, vkr_cmd *cmd);
/* Starts recording (waits for and discards any previous recording). */
int vkr_cmd_begin(vkr_cmd *cmd);
/* Records one dispatch, preceded by a barrier when it touches a buffer that an
 * earlier dispatch of this recording wrote (or writes one that was read). */
void vkr_cmd_dispatch(vkr_cmd *cmd, const vkr_dispatch *d);
/* Marks the recording failed with "op: message" (printf-style) in the
 * context's error, as a dispatch that cannot be made does (kernels' argument
 * checks); vkr_cmd_end then returns -1 with the message. */
void vkr_cmd_fail(vkr_cmd *cmd, const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Records a buffer copy (same barrier rules: src read, dst written). */
void vkr_cmd_copy(vkr_cmd *cmd, vkr_buffer *src, uint64_t src_off, vkr_buffer *dst, uint64_t dst_off, uint64_t size);
/* Ends recording. Errors recorded in dispatch/copy surface here. */
int vkr_cmd_end(vkr_cmd *cmd);
/* Submits the recording (again); host writes made before are visible.
 * A lost device or memory exhausted at run time fail here or in the wait
 * with a message naming the device and the recording ("device lost: ...");
 * after a device loss every later submission fails the same way.
 * Test hooks, read at vkr_ctx_create from the environment (not user
 * options): PHI3VK_TEST_FAULT=device-lost@N or oom@N makes every
 * vkr_cmd_submit after the first N fail so; PHI3VK_TEST_PLANT=name[*],... dispatches the
 * named shaders (or shaders starting with name) over half their workgroups,
 * a wrong kernel for the self-test to catch. */
int vkr_cmd_submit(vkr_cmd *cmd);
/* Waits for the last submission to finish. */
int vkr_cmd_wait(vkr_cmd *cmd);
/* submit + wait. */
int vkr_cmd_run(vkr_cmd *cmd);

/* Per-dispatch GPU time of the last finished submission (profile option on).
 * Entries are in recording order; label points into the recording. */
typedef struct vkr_op_time {
    const char *label;
    double ms;
    double bytes, flops;  /* as given to vkr_cmd_dispatch (0 for copies and fills) */
} vkr_op_time;
/* Returns the number of entries written to out (at most cap), or -1. */
int vkr_cmd_profile(vkr_cmd *cmd, vkr_op_time *out, int cap);
/* Test hook: with on = 1, record no barriers at all (tests/test_vk_runtime.c
 * uses it to show that synchronization validation reports the hazard). */
void vkr_cmd_test_no_barriers(vkr_cmd *cmd, int on);
/* A point between two steps of a recording (the forward pass calls it
 * after each layer) where it may be cut into another queue submission: it
 * is when the matrix FLOPs recorded since the last cut reach the device
 * profile's submit_flops, so that no submission runs long enough for a GPU
 * watchdog. vkr_cmd_submit queues the parts back to back. */
void vkr_cmd_boundary(vkr_cmd *cmd);
/* Queue submissions the current recording makes (1 when never cut). */
int vkr_cmd_submissions(const vkr_cmd *cmd);
/* Number of dispatches in the current recording. */
int vkr_cmd_dispatch_count(const vkr_cmd *cmd);
/* The context a command buffer records for (ops use it to get pipelines). */
vkr_ctx *vkr_cmd_ctx(const vkr_cmd *cmd);

#endif
