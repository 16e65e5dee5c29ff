/* Fuzz target: GGUF parsing from memory, then every accessor on every key
 * and tensor the parser accepted. */
#include <stdint.h>
#include <string.h>

#include "model/gguf.h"

static void touch_kv(const phi3_gguf *g, int64_t i) {
    char err[256];
    const char *key = phi3_gguf_kv_key(g, i);
    uint32_t u32; uint64_t u64; int64_t i64; float f; int b; const char *s; uint64_t len;
    phi3_gguf_get_u32(g, key, &u32, err, sizeof err);
    phi3_gguf_get_u64(g, key, &u64, err, sizeof err);
    phi3_gguf_get_i64(g, key, &i64, err, sizeof err);
    phi3_gguf_get_f32(g, key, &f, err, sizeof err);
    phi3_gguf_get_bool(g, key, &b, err, sizeof err);
    phi3_gguf_get_str(g, key, &s, &len, err, sizeof err);
    phi3_gguf_arr a;
    if (phi3_gguf_get_arr(g, key, PHI3_GGUF_TYPE_COUNT, &a, err, sizeof err) == 0) {
        uint64_t n = a.n < 64 ? a.n : 64;
        for (uint64_t k = 0; k < n; k++) {
            phi3_gguf_arr_f32(&a, k);
            phi3_gguf_arr_i64(&a, k);
            if (phi3_gguf_arr_str(&a, k, &s, &len) == 0 && len) (void)*(volatile const char *)(s + len - 1);
        }
        if (a.n) phi3_gguf_arr_str(&a, a.n - 1, &s, &len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    phi3_gguf *g = phi3_gguf_open_mem(data, size, "fuzz.gguf", err, sizeof err);
    if (!g) return 0;
    for (uint64_t i = 0; i < phi3_gguf_kv_count(g); i++) touch_kv(g, (int64_t)i);
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < phi3_gguf_tensor_count(g); i++) {
        const phi3_gguf_tensor *t = phi3_gguf_tensor_at(g, i);
        if (phi3_gguf_find_tensor(g, t->name) != t) __builtin_trap();
        sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
    phi3_gguf_close(g);
    return 0;
}
