/* Fuzz target: safetensors header parsing and validation from memory. */
#include <stdint.h>
#include <string.h>

#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    fmt_st_file *f = fmt_st_open_mem(data, size, "fuzz.safetensors", err, sizeof err);
    if (!f) return 0;
    /* touch every tensor's first and last byte: they must lie in the input */
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < fmt_st_count(f); i++) {
        const fmt_st_tensor *t = fmt_st_at(f, i);
        if (fmt_st_find(f, t->name) != t) __builtin_trap();
        if (t->n_bytes) sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
    fmt_st_close(f);
    return 0;
}
