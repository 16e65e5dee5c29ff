/* Fuzz target: arbitrary bytes through the real Phi-3 tokenizer
 * ($PHI3VK_DATA/tokenizer/phi3-mini-4k-instruct, loaded once; without it every
 * input is a no-op). Checks: encoding never fails; raw decoding gives the
 * bytes back (for text without "▁" and "<", which hold the only cases that
 * do not invert: a literal "▁" and added tokens); the streamed decode equals
 * the whole decode and every push is complete UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

static tok_tokenizer *tok;
static int tried;

static int complete_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = u[i] < 0x80 ? 1 : u[i] < 0xE0 ? 2 : u[i] < 0xF0 ? 3 : 4;
        if (i + l > n) return 0;
        i += l;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tried) {
        tried = 1;
        const char *dir = getenv("PHI3VK_DATA");
        char path[4096], err[512];
        if (dir) {
            snprintf(path, sizeof path, "%s/tokenizer/phi3-mini-4k-instruct/tokenizer.json", dir);
            tok = tok_load_json(path, err, sizeof err);
        }
        if (!tok) { /* the target cannot run: say so with ctest's skip code instead of passing every input */
            printf("SKIP: the real Phi-3 tokenizer (PHI3VK_DATA/tokenizer/phi3-mini-4k-instruct/tokenizer.json) is "
                   "absent\n");
            exit(77);
        }
    }
    char err[256];
    const char *text = (const char *)data;
    tok_ids v = {0};
    unsigned flags = size && (data[0] & 1) ? TOK_ENCODE_SPECIAL_AS_TEXT : 0;
    if (tok_encode(tok, text, size, flags, &v, err, sizeof err) != 0) __builtin_trap();
    int invertible = !memchr(data, '<', size);
    for (size_t i = 0; invertible && i + 3 <= size; i++)
        if (!memcmp(data + i, "\xE2\x96\x81", 3)) invertible = 0;
    char *raw = NULL, *whole = NULL;
    size_t rlen = 0, wlen = 0;
    if (tok_decode(tok, v.ids, v.n, TOK_DECODE_RAW_BYTES, &raw, &rlen, err, sizeof err) != 0) __builtin_trap();
    if (invertible && (rlen != size || (size && memcmp(raw, data, size) != 0))) __builtin_trap();
    if (tok_decode(tok, v.ids, v.n, 0, &whole, &wlen, err, sizeof err) != 0) __builtin_trap();
    tok_stream *s = tok_stream_create(tok, 0);
    size_t at = 0, len;
    for (size_t i = 0; s && i < v.n; i++) {
        const char *p = tok_stream_push(s, v.ids[i], &len, err, sizeof err);
        if (!p || !complete_utf8(p, len) || at + len > wlen || memcmp(whole + at, p, len) != 0) __builtin_trap();
        at += len;
    }
    if (s) {
        const char *p = tok_stream_flush(s, &len);
        if (at + len != wlen || memcmp(whole + at, p, len) != 0) __builtin_trap();
    }
    tok_stream_destroy(s);
    free(raw);
    free(whole);
    tok_ids_free(&v);
    return 0;
}
