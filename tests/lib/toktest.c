/* A small synthetic SentencePiece tokenizer for the converter tests. */
#include "toktest.h"

#include <stdio.h>
#include <stdlib.h>

#include "check.h"

/* <unk> <s> </s>, 256 byte pieces, a few BPE pieces, one special token:
 * n_pieces ids (>= 270); the model's vocab is larger so that padding shows. */
tok_tokenizer *tst_small_tokenizer(int32_t n_pieces) {
    const char *normal[] = {"\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab", "abc", "\xe2\x96\x81" "abc", "bc"};
    int32_t n_normal = (int32_t)(sizeof normal / sizeof normal[0]);
    const char **pieces = calloc((size_t)n_pieces, sizeof *pieces);
    float *scores = calloc((size_t)n_pieces, sizeof *scores);
    int32_t *types = calloc((size_t)n_pieces, sizeof *types);
    uint8_t *flags = calloc((size_t)n_pieces, 1);
    char(*text)[16] = calloc((size_t)n_pieces, 16);
    for (int32_t i = 0; i < n_pieces; i++) {
        if (i < 3) {
            static const char *sp[3] = {"<unk>", "<s>", "</s>"};
            pieces[i] = sp[i], scores[i] = -1000, types[i] = TOK_TYPE_CONTROL;
            flags[i] = i == 2 ? TOK_ADDED_RSTRIP : 0;
        } else if (i < 259) {
            snprintf(text[i], 16, "<0x%02X>", i - 3);
            pieces[i] = text[i], types[i] = TOK_TYPE_BYTE;
        } else if (i < 259 + n_normal) {
            pieces[i] = normal[i - 259], scores[i] = -(float)(i - 259), types[i] = TOK_TYPE_NORMAL;
        } else if (i == 259 + n_normal) {
            pieces[i] = "<|end|>", scores[i] = -1000, types[i] = TOK_TYPE_CONTROL;
            flags[i] = TOK_ADDED_RSTRIP;
        } else {
            snprintf(text[i], 16, "x%d", i);
            pieces[i] = text[i], scores[i] = -(float)i, types[i] = TOK_TYPE_NORMAL;
        }
    }
    /* rstrip as tok_load_gguf gives Phi-3's added tokens (all but <unk>, <s>, <|endoftext|>) */
    tok_spm_params p = {.n_vocab = n_pieces, .pieces = pieces, .scores = scores, .types = types, .added_flags = flags, .bos_id = 1, .eos_id = 2,
                        .unk_id = 0, .pad_id = -1, .add_bos = 1, .name = "synthetic"};
    char err[256];
    tok_tokenizer *t = tok_create_spm(&p, err, sizeof err);
    CHECK(t, "synthetic tokenizer: %s", err);
    free(pieces);
    free(scores);
    free(types);
    free(flags);
    free(text);
    return t;
}

