/* Fuzz target: the whole model open, as `inspect`, `classify` and every
 * command that loads a model do it: phi3_source_open on a GGUF file, or on a
 * Hugging Face folder of config.json + model.safetensors, with the config
 * validation, the LongRoPE factors and the weight binding; then one row of
 * the embedding through the fp16 converter. Issue 14 row 1 (a 16 KB GGUF
 * that wrote megabytes past a config array) went through exactly this path.
 *
 * Input layout: byte 0 picks the form.
 *   even: the rest is a .gguf file
 *   odd:  bytes 1-2 = n (little-endian), then n bytes of config.json, then
 *         the rest is model.safetensors
 * The files go to a private temporary folder (phi3_source_open takes paths). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/source.h"

static char dir[64];
static char gguf_path[96], cfg_path[96], st_path[96];

static void cleanup(void) {
    unlink(gguf_path);
    unlink(cfg_path);
    unlink(st_path);
    rmdir(dir);
}

static int put(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) || w != n ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_model_open.XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(gguf_path, sizeof gguf_path, "%s/m.gguf", dir);
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
        snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
        atexit(cleanup);
    }
    if (size < 1) return 0;
    const char *path;
    if (!(data[0] & 1)) {
        if (put(gguf_path, data + 1, size - 1)) abort();
        path = gguf_path;
    } else {
        if (size < 3) return 0;
        size_t n = (size_t)data[1] | (size_t)data[2] << 8;
        if (n > size - 3) n = size - 3;
        if (put(cfg_path, data + 3, n) || put(st_path, data + 3 + n, size - 3 - n)) abort();
        path = dir;
    }
    char err[1024];
    phi3_source *s = phi3_source_open(path, err, sizeof err);
    if (!s) {
        if (!err[0]) abort(); /* a failure always says why */
        return 0;
    }
    const phi3_config *c = phi3_source_config(s);
    if (c->head_dim > PHI3_MAX_HEAD_DIM || c->head_dim * c->n_heads != c->hidden) abort();
    const phi3_tensor *t = phi3_source_weight(s, PHI3_W_EMBD, 0);
    uint16_t *row = t ? malloc((size_t)t->cols * 2) : NULL;
    if (row && phi3_source_read_rows_f16(s, t, t->rows - 1, 1, row, t->cols, NULL, err, sizeof err)) abort();
    free(row);
    phi3_source_close(s);
    return 0;
}
