/* Loads a checkpoint into a ref_model through model/source.h: the same fp16
 * rounding the device upload applies, widened back to float. */
#include <stdio.h>
#include <stdlib.h>

#include "formats/f16.h"
#include "model/source.h"
#include "ref_phi3.h"

static float *load(const phi3_source *src, phi3_weight_kind kind, int layer, char *err, size_t errlen) {
    const phi3_tensor *t = phi3_source_weight(src, kind, layer);
    uint64_t n = t->rows * t->cols;
    uint16_t *h = malloc(n * sizeof *h);
    float *f = malloc(n * sizeof *f);
    if (!h || !f || phi3_source_read_rows_f16(src, t, 0, t->rows, h, t->cols, NULL, err, errlen)) {
        if (h && f) fprintf(stderr, "ref_model_load: %s\n", err);
        free(h), free(f);
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) f[i] = fmt_f16_to_f32(h[i]);
    free(h);
    return f;
}

int ref_model_load(ref_model *m, const char *path, char *err, size_t errlen) {
    phi3_source *src = phi3_source_open(path, err, errlen);
    if (!src) return -1;
    m->cfg = *phi3_source_config(src);
    m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    int ok = m->layers && (m->embd = load(src, PHI3_W_EMBD, 0, err, errlen)) &&
             (m->out_norm = load(src, PHI3_W_OUTPUT_NORM, 0, err, errlen));
    if (ok) m->lm_head = phi3_source_output_is_tied(src) ? m->embd : load(src, PHI3_W_OUTPUT, 0, err, errlen);
    ok = ok && m->lm_head;
    for (int l = 0; ok && l < m->cfg.n_layers; l++) {
        ref_layer *L = &m->layers[l];
        ok = (L->attn_norm = load(src, PHI3_W_ATTN_NORM, l, err, errlen)) &&
             (L->qkv = load(src, PHI3_W_QKV, l, err, errlen)) && (L->o = load(src, PHI3_W_O, l, err, errlen)) &&
             (L->ffn_norm = load(src, PHI3_W_FFN_NORM, l, err, errlen)) &&
             (L->gate_up = load(src, PHI3_W_GATE_UP, l, err, errlen)) &&
             (L->down = load(src, PHI3_W_DOWN, l, err, errlen));
    }
    phi3_source_close(src);
    if (!ok) ref_model_free(m);
    return ok ? 0 : -1;
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
