/* The Phi-3 tensor table (see tensors.h). */
#include "model/tensors.h"

#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"

static const struct {
    const char *kind, *hf, *gguf;
} table[PHI3_W_KIND_COUNT] = {
    [PHI3_W_EMBD] = {"embd", "model.embed_tokens.weight", "token_embd.weight"},
    [PHI3_W_ATTN_NORM] = {"attn_norm", "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    [PHI3_W_QKV] = {"qkv", "model.layers.%d.self_attn.qkv_proj.weight", "blk.%d.attn_qkv.weight"},
    [PHI3_W_O] = {"o", "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
    [PHI3_W_FFN_NORM] = {"ffn_norm", "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    [PHI3_W_GATE_UP] = {"gate_up", "model.layers.%d.mlp.gate_up_proj.weight", "blk.%d.ffn_up.weight"},
    [PHI3_W_DOWN] = {"down", "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
    [PHI3_W_OUTPUT_NORM] = {"output_norm", "model.norm.weight", "output_norm.weight"},
    [PHI3_W_OUTPUT] = {"output", "lm_head.weight", "output.weight"},
};

int phi3_weight_is_per_layer(phi3_weight_kind kind) { return kind >= PHI3_W_ATTN_NORM && kind <= PHI3_W_DOWN; }

const char *phi3_weight_kind_name(phi3_weight_kind kind) {
    return (unsigned)kind < PHI3_W_KIND_COUNT ? table[kind].kind : "unknown";
}

void phi3_weight_name(phi3_weight_kind kind, int layer, int gguf, char *buf, size_t len) {
    if ((unsigned)kind >= PHI3_W_KIND_COUNT) {
        snprintf(buf, len, "unknown");
        return;
    }
    const char *f = gguf ? table[kind].gguf : table[kind].hf;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    if (phi3_weight_is_per_layer(kind)) snprintf(buf, len, f, layer);
    else snprintf(buf, len, "%s", f);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}

void phi3_weight_shape(const phi3_config *c, phi3_weight_kind kind, uint64_t *rows, uint64_t *cols) {
    uint64_t H = (uint64_t)c->hidden, F = (uint64_t)c->intermediate, V = (uint64_t)c->vocab;
    uint64_t hd = c->head_dim > 0 ? (uint64_t)c->head_dim : c->n_heads ? (uint64_t)(c->hidden / c->n_heads) : 0;
    uint64_t r = 0, k = H;
    switch (kind) {
    case PHI3_W_EMBD: case PHI3_W_OUTPUT: r = V; break;
    case PHI3_W_QKV: r = (uint64_t)(c->n_heads + 2 * c->n_kv_heads) * hd; break;
    case PHI3_W_O: r = H, k = (uint64_t)c->n_heads * hd; break;
    case PHI3_W_GATE_UP: r = 2 * F; break;
    case PHI3_W_DOWN: r = H, k = F; break;
    default: break; /* the norms: 1-D */
    }
    *rows = r;
    *cols = k;
}

/* ---- storage schemes ---- */

static const char *const quant_names[] = {"as stored", "f16", "q8_0", "q4_0", "q4_k", "q4_k_m"};

int phi3_quant_parse(const char *name, phi3_quant *out) {
    char low[16];
    size_t n = strlen(name);
    if (n >= sizeof low) return -1;
    for (size_t i = 0; i <= n; i++) low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    for (int q = PHI3_QUANT_F16; q <= PHI3_QUANT_Q4_K_M; q++)
        if (!strcmp(low, quant_names[q])) {
            *out = (phi3_quant)q;
            return 0;
        }
    return -1;
}

const char *phi3_quant_name(phi3_quant q) { return (unsigned)q <= PHI3_QUANT_Q4_K_M ? quant_names[q] : "unknown"; }

uint32_t phi3_quant_file_type(phi3_quant q) {
    switch (q) {
    case PHI3_QUANT_Q8_0: return 7;
    case PHI3_QUANT_Q4_0: return 2;
    case PHI3_QUANT_Q4_K: return 14;
    case PHI3_QUANT_Q4_K_M: return 15;
    default: return 1;
    }
}

/* llama-quantize's use_more_bits: the layers Q4_K_M gives more bits. */
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

uint32_t phi3_quant_type(phi3_quant q, phi3_weight_kind kind, int layer, int n_layers, uint64_t cols, int output) {
    uint32_t t;
    switch (q) {
    case PHI3_QUANT_Q8_0: t = FMT_GGML_Q8_0; break;
    case PHI3_QUANT_Q4_0: t = output ? FMT_GGML_Q6_K : FMT_GGML_Q4_0; break;
    case PHI3_QUANT_Q4_K: t = output ? FMT_GGML_Q6_K : FMT_GGML_Q4_K; break;
    case PHI3_QUANT_Q4_K_M:
        t = output                                                   ? FMT_GGML_Q6_K
            : kind == PHI3_W_QKV                                     ? FMT_GGML_Q5_K
            : kind == PHI3_W_DOWN && more_bits(layer, n_layers)      ? FMT_GGML_Q6_K
                                                                     : FMT_GGML_Q4_K;
        break;
    default: return FMT_GGML_F16;
    }
    int k = t == FMT_GGML_Q4_K || t == FMT_GGML_Q5_K || t == FMT_GGML_Q6_K;
    if (k && cols % 256) t = FMT_GGML_Q8_0;
    if (cols % 32) t = FMT_GGML_F16;
    return t;
}
