/* Tokenizer from a GGUF file's tokenizer.ggml.* metadata (llama.cpp layout).
 * Separate from tok.h so users of tok.h need not see the GGUF reader. */
#ifndef PHI3VK_TOKENIZER_TOK_GGUF_H
#define PHI3VK_TOKENIZER_TOK_GGUF_H
#include <stddef.h>

#include "formats/gguf.h"
#include "tokenizer/tok.h"

/* Builds the tokenizer of an open GGUF: tokenizer.ggml.model must be "llama"
 * (SentencePiece BPE); tokenizer.ggml.tokens (string array), .scores (float
 * array) and .token_type (integer array) are required and of equal length;
 * bos_token_id / eos_token_id / unknown_token_id / padding_token_id,
 * add_bos_token and add_space_prefix are optional (llama.cpp's defaults:
 * bos 1, eos 2, unk 0, no pad, add_bos 1, space prefix on). For Phi-3
 * (general.architecture "phi3", or general.name containing "phi3"/"phi-3")
 * the added tokens get llama.cpp's rstrip flags: every CONTROL/USER_DEFINED
 * token except <unk>, <s>, <|endoftext|> swallows the whitespace after it -
 * the same flags as the current Phi-3 tokenizer.json. The tokenizer copies
 * what it needs: g may be closed afterwards. Returns NULL and fills err
 * ("x.gguf: tokenizer.ggml.model is \"gpt2\": expected \"llama\"") on failure. */
tok_tokenizer *tok_load_gguf(const fmt_gguf *g, char *err, size_t errlen);

/* Opens path with fmt_gguf_open, loads its tokenizer, closes it. */
tok_tokenizer *tok_load_gguf_file(const char *path, char *err, size_t errlen);

#endif
