/* Fuzz target: bytes as a GGUF file whose tokenizer.ggml.* keys build a
 * tokenizer; one that builds must encode and decode a fixed text. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/gguf.h"
#include "tokenizer/tok_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    fmt_gguf *g = fmt_gguf_open_mem(data, size, "fuzz.gguf", err, sizeof err);
    if (!g) return 0;
    tok_tokenizer *t = tok_load_gguf(g, err, sizeof err);
    fmt_gguf_close(g);
    if (!t) return 0;
    static const char text[] = "Hello <|user|>\n w\xC3\xB6rld \xFF <s> ab ba";
    tok_ids v = {0};
    if (tok_encode(t, text, sizeof text - 1, TOK_ENCODE_BOS * (tok_bos_id(t) >= 0), &v, err, sizeof err) != 0)
        __builtin_trap();
    char *out = NULL;
    if (tok_decode(t, v.ids, v.n, TOK_DECODE_SKIP_SPECIAL, &out, NULL, err, sizeof err) != 0) __builtin_trap();
    free(out);
    tok_ids_free(&v);
    tok_destroy(t);
    return 0;
}
