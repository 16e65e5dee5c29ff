/* Fuzz target: GGUF parsing from memory, then every accessor on every key
 * and tensor the parser accepted. */
#include <stdint.h>
#include <string.h>

#include "formats/gguf.h"

static void touch_kv(const fmt_gguf *g, int64_t i) {
    char err[256];
    const char *key = fmt_gguf_kv_key(g, i);
    uint32_t u32; uint64_t u64; int64_t i64; float f; int b; const char *s; uint64_t len;
    fmt_gguf_get_u32(g, key, &u32, err, sizeof err);
    fmt_gguf_get_u64(g, key, &u64, err, sizeof err);
    fmt_gguf_get_i64(g, key, &i64, err, sizeof err);
    fmt_gguf_get_f32(g, key, &f, err, sizeof err);
    fmt_gguf_get_bool(g, key, &b, err, sizeof err);
    fmt_gguf_get_str(g, key, &s, &len, err, sizeof err);
    fmt_gguf_arr a;
    if (fmt_gguf_get_arr(g, key, FMT_GGUF_TYPE_COUNT, &a, err, sizeof err) == 0) {
        uint64_t n = a.n < 64 ? a.n : 64;
        for (uint64_t k = 0; k < n; k++) {
            fmt_gguf_arr_f32(&a, k);
            fmt_gguf_arr_i64(&a, k);
            if (fmt_gguf_arr_str(&a, k, &s, &len) == 0 && len) (void)*(volatile const char *)(s + len - 1);
        }
        if (a.n) fmt_gguf_arr_str(&a, a.n - 1, &s, &len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    fmt_gguf *g = fmt_gguf_open_mem(data, size, "fuzz.gguf", err, sizeof err);
    if (!g) return 0;
    for (uint64_t i = 0; i < fmt_gguf_kv_count(g); i++) touch_kv(g, (int64_t)i);
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < fmt_gguf_tensor_count(g); i++) {
        const fmt_gguf_tensor *t = fmt_gguf_tensor_at(g, i);
        if (fmt_gguf_find_tensor(g, t->name) != t) __builtin_trap();
        sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
    fmt_gguf_close(g);
    return 0;
}
