/* A small synthetic SentencePiece tokenizer for tests that need one
 * without the real Phi-3 files (the converter tests). */
#ifndef PHI3VK_TEST_TOKTEST_H
#define PHI3VK_TEST_TOKTEST_H
#include <stdint.h>

#include "tokenizer/tok.h"

/* <unk> <s> </s>, 256 byte pieces, a few BPE pieces of "a", "b", "c" and
 * "\u2581", one special token <|end|>, then "x<id>" pieces up to n_pieces
 * ids (>= 270). NULL (and a failed CHECK) when it cannot be built. */
tok_tokenizer *tst_small_tokenizer(int32_t n_pieces);

#endif
