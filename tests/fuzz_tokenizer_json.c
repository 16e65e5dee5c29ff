/* Fuzz target: bytes as a tokenizer.json. A file that loads must then encode,
 * decode (whole and streamed, which must agree), render a chat, list its
 * vocabulary and rebuild as a SentencePiece vocabulary without trouble. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok.h"

static const char text[] = "Hello <|user|>\n w\xC3\xB6rld  [L]ab ba \xFF\xFE \xF0\x9F\xA6\x99<s></s>\t end ";

static void roundtrip(const tok_tokenizer *t) {
    char err[256];
    tok_ids v = {0};
    if (tok_encode(t, text, sizeof text - 1, 0, &v, err, sizeof err) != 0) __builtin_trap();
    char *whole = NULL;
    size_t wlen = 0;
    if (tok_decode(t, v.ids, v.n, 0, &whole, &wlen, err, sizeof err) != 0) __builtin_trap();
    tok_stream *s = tok_stream_create(t, 0);
    size_t at = 0, len;
    for (size_t i = 0; s && i < v.n; i++) {
        const char *p = tok_stream_push(s, v.ids[i], &len, err, sizeof err);
        if (!p || at + len > wlen || memcmp(whole + at, p, len) != 0) __builtin_trap();
        at += len;
    }
    if (s) {
        const char *p = tok_stream_flush(s, &len);
        if (at + len != wlen || memcmp(whole + at, p, len) != 0) __builtin_trap();
    }
    tok_stream_destroy(s);
    free(whole);
    tok_ids_free(&v);
    tok_chat_msg m = {"user", text};
    tok_chat_encode(t, &m, 1, TOK_CHAT_NO_BOS | TOK_CHAT_CONTENT_AS_TEXT, &v, err, sizeof err);
    tok_ids_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    tok_tokenizer *t = tok_load_json_mem((const char *)data, size, "fuzz.json", err, sizeof err);
    if (!t) return 0;
    roundtrip(t);
    /* the exported vocabulary rebuilt as SentencePiece arrays (what a GGUF would hold) */
    int32_t n = tok_n_vocab(t);
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    uint32_t *lens = malloc((size_t)n * sizeof *lens);
    float *scores = malloc((size_t)n * sizeof *scores);
    int32_t *types = malloc((size_t)n * sizeof *types);
    if (pieces && lens && scores && types) {
        for (int32_t i = 0; i < n; i++) {
            tok_piece_info pi;
            if (tok_vocab_get(t, i, &pi) != 0) __builtin_trap();
            pieces[i] = pi.text;
            lens[i] = (uint32_t)pi.len;
            scores[i] = pi.score;
            types[i] = pi.type;
        }
        tok_spm_params p = {n, pieces, lens, scores, types, NULL, tok_bos_id(t), tok_eos_id(t), tok_unk_id(t),
                            tok_pad_id(t), 1, 0, "fuzz spm"};
        tok_tokenizer *s = tok_create_spm(&p, err, sizeof err);
        if (s) roundtrip(s);
        tok_destroy(s);
    }
    free(pieces);
    free(lens);
    free(scores);
    free(types);
    tok_destroy(t);
    return 0;
}
