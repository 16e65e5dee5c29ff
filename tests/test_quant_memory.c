/* Issue 17's memory point: a Q4_K Phi-3-mini with --ctx 512 runs in under
 * 2.6 GB of device memory, computed from the engine's own sizing rather than
 * by allocating 2.3 GB on every test run:
 *
 * - the weights: eng_weights_device_bytes (the loader's memory check),
 *   first checked to equal what eng_model_synthetic really allocates, for
 *   every --weights type, tied and untied, on small models;
 * - the context: a real eng_plan_make + eng_ctx_create (what `generate`
 *   asks for: one sequence, --ctx 512, passes of 512) on a one-layer
 *   model of Phi-3-mini's width and vocabulary; KV cache per layer times 32
 *   plus the scratch, which does not grow with the layers.
 *
 * `phi3vk generate -m Q4_K-phi3-mini.gguf --ctx 512 -v` shows the same sums
 * on the real file (bench/RESULTS.md). */
#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"
#include "lib/engtest.h"
#include "engine/engine.h"
#include "model/synth.h"

#define BOUND 2.6e9
#define MIB (1024.0 * 1024.0)

static const phi3_quant types[] = {PHI3_QUANT_NONE, PHI3_QUANT_Q8_0, PHI3_QUANT_Q4_0, PHI3_QUANT_Q4_K,
                                   PHI3_QUANT_Q4_K_M};

/* The planned weight bytes are the allocated ones (so the sums below are). */
static void check_planned_is_allocated(vkr_ctx *vk) {
    for (int tied = 0; tied < 2; tied++)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            phi3_synth_opts o;
            phi3_synth_defaults(&o);
            phi3_config *c = &o.cfg;
            c->hidden = 256, c->intermediate = 768, c->n_layers = 3, c->vocab = 1000;
            c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 64, c->tie_word_embeddings = tied;
            c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
            char err[512];
            eng_model *m = eng_model_synthetic(&o, &(eng_model_opts){.vk = vk, .weights = types[i]}, err, sizeof err);
            CHECK(m != NULL, "%s: %s", phi3_quant_name(types[i]), err);
            if (!m) continue;
            uint64_t want = eng_weights_device_bytes(c, tied, types[i]), got = eng_model_weight_bytes(m);
            CHECK(want == got, "%s%s: planned %llu weight bytes, allocated %llu", phi3_quant_name(types[i]),
                  tied ? " tied" : "", (unsigned long long)want, (unsigned long long)got);
            eng_model_close(m);
        }
}

int main(void) {
    char err[512];
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!vk) test_skip(err);
    check_planned_is_allocated(vk);

    phi3_synth_opts o;
    phi3_synth_defaults(&o);
    CHECK(phi3_synth_preset(&o.cfg, "phi3-mini", err, sizeof err) == 0, "preset: %s", err);
    const int layers = o.cfg.n_layers;
    uint64_t params = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint64_t w = eng_weights_device_bytes(&o.cfg, 0, types[i]);
        if (!params) params = w / 2; /* fp16: 2 bytes per weight (Phi-3-mini's rows need no padding) */
        printf("phi3-mini weights as %-6s %7.1f MiB, %.3f bytes per weight\n",
               types[i] == PHI3_QUANT_NONE ? "f16" : phi3_quant_name(types[i]), w / MIB,
               (double)w / params);
    }
    uint64_t weights = eng_weights_device_bytes(&o.cfg, 0, PHI3_QUANT_Q4_K);
    CHECK(weights < 0.57 * params, "Q4_K: %.3f bytes per weight, 4.5 bits expected", (double)weights / params);

    /* the context of one layer at full width (the weights' type does not
     * change the context: Q8_0 and one tied matrix keep the load short) */
    o.cfg.n_layers = 1;
    o.cfg.tie_word_embeddings = 1;
    eng_model *m = eng_model_synthetic(&o, &(eng_model_opts){.vk = vk, .weights = PHI3_QUANT_Q8_0}, err, sizeof err);
    CHECK(m != NULL, "one-layer phi3-mini: %s", err);
    eng_ctx *c = m ? tst_ctx(m, (eng_plan_request){.n_ctx = 512, .n_seq = 1}, err, sizeof err) : NULL;
    CHECK(c != NULL, "context: %s", err);
    if (c) {
        eng_plan p;
        CHECK(eng_plan_make(m, &(eng_plan_request){.n_ctx = 512, .n_seq = 1}, &p, err, sizeof err) == 0, "plan: %s",
              err);
        uint64_t ctx1 = eng_ctx_device_bytes(c), kv_layer = p.kv_bytes, scratch = ctx1 - kv_layer;
        CHECK(kv_layer == 2ull * 512 * o.cfg.n_kv_heads * o.cfg.head_dim * 2, "KV cache of one layer: %llu bytes",
              (unsigned long long)kv_layer);
        uint64_t total = weights + kv_layer * (uint64_t)layers + scratch;
        printf("Q4_K phi3-mini, --ctx 512: weights %.1f MiB + KV cache %.1f MiB + scratch %.1f MiB = %.1f MiB "
               "(%.3f GB; bound %.1f GB)\n",
               weights / MIB, kv_layer * (double)layers / MIB, scratch / MIB, total / MIB, total / 1e9, BOUND / 1e9);
        CHECK(total < BOUND, "Q4_K phi3-mini with --ctx 512 needs %.3f GB > %.1f GB", total / 1e9, BOUND / 1e9);
        eng_ctx_destroy(c);
    }
    eng_model_close(m);
    vkr_ctx_destroy(vk);
    return test_finish();
}
