/* Planning (engine.h): the KV cache size and the number of sequences of a
 * context, from the model, the device profile and the memory left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

#define MIB (1024.0 * 1024.0)

/* MemAvailable of /proc/meminfo in bytes (0 where unreadable). */
static uint64_t host_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) {
            kib = strtod(line + 13, NULL);
            break;
        }
    if (f) fclose(f);
    return (uint64_t)(kib * 1024);
}

/* Memory the sequences can use: a CPU driver's memory is the host's. */
static uint64_t free_bytes(const eng_model *m) {
    const vkr_device_info *d = vkr_ctx_device(m->vk);
    if (vkr_ctx_profile(m->vk)->cpu) return host_available_bytes();
    uint64_t used = vkr_ctx_allocated(m->vk);
    return d->device_local_bytes > used ? d->device_local_bytes - used : 0;
}

int eng_plan_make(const eng_model *m, const eng_plan_request *r, eng_plan *out, char *err, size_t errlen) {
    const phi3_config *cfg = &m->cfg;
    const vkr_device_info *dev = vkr_ctx_device(m->vk);
    memset(out, 0, sizeof *out);
    out->n_ctx = r->n_ctx > 0 ? r->n_ctx : (cfg->max_pos < 4096 ? cfg->max_pos : 4096);
    out->n_batch = r->n_batch > 0 ? r->n_batch : 512;
    if (out->n_batch > out->n_ctx) out->n_batch = out->n_ctx;
    out->all_logits = r->all_logits;
    if (out->n_ctx > cfg->max_pos) {
        snprintf(err, errlen, "a context of %d tokens exceeds the model's %d", out->n_ctx, cfg->max_pos);
        return -1;
    }
    uint64_t row = (uint64_t)cfg->n_kv_heads * cfg->head_dim * 2; /* fp16 bytes per token, K or V, one layer */
    uint64_t per_seq = 2 * (uint64_t)cfg->n_layers * out->n_ctx * row;
    out->free_bytes = free_bytes(m);
    int n = r->n_seq;
    if (n <= 0) {
        /* CPU drivers are compute-bound: one sequence for prompt work (batched
         * prompts measured slower there), eight decoding in lockstep (one
         * register-blocked tile of tokens per pass); GPUs: sixteen. Half the
         * free memory at most, the rest for activations and other programs. */
        int most = vkr_ctx_profile(m->vk)->cpu ? (r->decoding ? 8 : 1) : 16;
        int cap = r->max_seq > 0 ? r->max_seq : 16;
        uint64_t fit = per_seq && out->free_bytes ? out->free_bytes / 2 / per_seq : (uint64_t)most;
        n = most < cap ? most : cap;
        if ((uint64_t)n > fit) n = (int)fit;
        if (n < 1) n = 1;
    }
    out->n_seq = n;
    out->kv_bytes = per_seq * (uint64_t)n;
    /* Each layer's K (and V) cache of all sequences is one storage buffer. */
    if ((uint64_t)n * out->n_ctx * row > dev->max_storage_buffer_range) {
        snprintf(err, errlen, "%d sequence%s x %d tokens need a %.0f MiB KV cache per layer; %s allows %.0f MiB per "
                 "buffer: use at most %llu tokens of context in all", n, n > 1 ? "s" : "", out->n_ctx,
                 (double)n * out->n_ctx * row / MIB, dev->name, dev->max_storage_buffer_range / MIB,
                 (unsigned long long)(dev->max_storage_buffer_range / row));
        return -1;
    }
    if (out->free_bytes && out->kv_bytes > out->free_bytes) { /* 0: unknown */
        snprintf(err, errlen, "%d sequence%s x %d tokens need %.0f MiB of KV cache; %s has %.0f MiB free: use a "
                 "smaller --ctx or --batch", n, n > 1 ? "s" : "", out->n_ctx, out->kv_bytes / MIB, dev->name,
                 out->free_bytes / MIB);
        return -1;
    }
    return 0;
}
