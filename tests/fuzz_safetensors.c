/* Fuzz target: safetensors header parsing and validation from memory. */
#include <stdint.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    phi3_st_file *f = phi3_st_open_mem(data, size, "fuzz.safetensors", err, sizeof err);
    if (!f) return 0;
    /* touch every tensor's first and last byte: they must lie in the input */
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < phi3_st_count(f); i++) {
        const phi3_st_tensor *t = phi3_st_at(f, i);
        if (phi3_st_find(f, t->name) != t) __builtin_trap();
        if (t->n_bytes) sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
    phi3_st_close(f);
    return 0;
}
