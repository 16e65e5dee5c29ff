/* Loads a checkpoint into a ref_model through model/source.h: the values the
 * device holds, widened to float: the fp16 rounding of float weights, the
 * dequantized blocks of quantized ones (as stored, or quantized here as
 * the engine's --weights does: model/tensors.h). */
#include <stdio.h>
#include <stdlib.h>

#include "formats/f16.h"
#include "formats/quant.h"
#include "model/source.h"
#include "ref_phi3.h"

/* The device's type of a weight (engine/model.c weight_dtype). */
static uint32_t dtype_of(const phi3_source *src, phi3_quant q, phi3_weight_kind kind, int layer) {
    const phi3_tensor *t = phi3_source_weight(src, kind, layer);
    if (t->n_dims <= 1) return FMT_GGML_F16;
    if (q == PHI3_QUANT_NONE) return fmt_quant_supported(phi3_tensor_type(t)) ? phi3_tensor_type(t) : FMT_GGML_F16;
    int output = kind == PHI3_W_OUTPUT || (kind == PHI3_W_EMBD && phi3_source_output_is_tied(src));
    return phi3_quant_type(q, kind, layer, phi3_source_config(src)->n_layers, t->cols, output);
}

static float *load(const phi3_source *src, phi3_quant q, phi3_weight_kind kind, int layer, char *err, size_t errlen) {
    const phi3_tensor *t = phi3_source_weight(src, kind, layer);
    uint64_t n = t->rows * t->cols;
    uint32_t dt = dtype_of(src, q, kind, layer);
    float *f = malloc(n * sizeof *f);
    int rc = -1;
    if (!f) return NULL;
    if (dt == FMT_GGML_F16) {
        uint16_t *h = malloc(n * sizeof *h);
        rc = h ? phi3_source_read_rows_f16(src, t, 0, t->rows, h, t->cols, NULL, err, errlen) : -1;
        for (uint64_t i = 0; rc == 0 && i < n; i++) f[i] = fmt_f16_to_f32(h[i]);
        free(h);
    } else {
        uint64_t rb = fmt_quant_row_bytes(dt, t->cols);
        uint8_t *b = malloc((size_t)(rb * t->rows));
        if (b && phi3_tensor_type(t) == dt) rc = phi3_source_read_rows_raw(src, t, 0, t->rows, b, err, errlen);
        else if (b && (rc = phi3_source_read_rows_f32(src, t, 0, t->rows, f, err, errlen)) == 0)
            for (uint64_t r = 0; r < t->rows; r++) fmt_quantize_row(dt, f + r * t->cols, b + r * rb, t->cols);
        for (uint64_t r = 0; rc == 0 && r < t->rows; r++) fmt_dequantize_row(dt, b + r * rb, f + r * t->cols, t->cols);
        free(b);
    }
    if (rc) {
        fprintf(stderr, "ref_model_load: %s\n", err);
        free(f);
        return NULL;
    }
    return f;
}

int ref_model_load_as(ref_model *m, const char *path, phi3_quant q, char *err, size_t errlen) {
    phi3_source *src = phi3_source_open(path, err, errlen);
    if (!src) return -1;
    m->cfg = *phi3_source_config(src);
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    int ok = m->layers && (m->embd = load(src, q, PHI3_W_EMBD, 0, err, errlen)) &&
             (m->out_norm = load(src, q, PHI3_W_OUTPUT_NORM, 0, err, errlen));
    if (ok) m->lm_head = phi3_source_output_is_tied(src) ? m->embd : load(src, q, PHI3_W_OUTPUT, 0, err, errlen);
    ok = ok && m->lm_head;
    for (int l = 0; ok && l < m->cfg.n_layers; l++) {
        ref_layer *L = &m->layers[l];
        ok = (L->attn_norm = load(src, q, PHI3_W_ATTN_NORM, l, err, errlen)) &&
             (L->qkv = load(src, q, PHI3_W_QKV, l, err, errlen)) && (L->o = load(src, q, PHI3_W_O, l, err, errlen)) &&
             (L->ffn_norm = load(src, q, PHI3_W_FFN_NORM, l, err, errlen)) &&
             (L->gate_up = load(src, q, PHI3_W_GATE_UP, l, err, errlen)) &&
             (L->down = load(src, q, PHI3_W_DOWN, l, err, errlen));
    }
    phi3_source_close(src);
    if (!ok) ref_model_free(m);
    return ok ? 0 : -1;
}

int ref_model_load(ref_model *m, const char *path, char *err, size_t errlen) {
    return ref_model_load_as(m, path, PHI3_QUANT_NONE, err, errlen);
}

void ref_model_free(ref_model *m) {
    for (int l = 0; m->layers && l < m->cfg.n_layers; l++) {
        ref_layer *L = &m->layers[l];
        free(L->attn_norm), free(L->qkv), free(L->o), free(L->ffn_norm), free(L->gate_up), free(L->down);
    }
    if (m->lm_head != m->embd) free(m->lm_head);
    free(m->embd), free(m->out_norm), free(m->layers);
    m->layers = NULL, m->embd = m->lm_head = m->out_norm = NULL;
}
