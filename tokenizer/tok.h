/* Phi-3 / Llama-2 SentencePiece-BPE tokenizer with Hugging Face semantics.
 *
 * Two sources build the same tokenizer and give identical ids:
 *   - tokenizer.json (Hugging Face): BPE merges applied by rank;
 *   - tokenizer.ggml.* arrays (GGUF, llama.cpp): pieces + scores + token types,
 *     merges derived from the vocabulary and applied by score.
 *
 * Encoding follows Hugging Face `tokenizer.encode(text, add_special_tokens=False)`:
 *   1. added tokens (`<|user|>`, `<s>`, ...) are matched as whole strings in
 *      the raw text, leftmost-longest, before anything else; their lstrip /
 *      rstrip flags swallow Unicode whitespace on that side (the current
 *      Phi-3 tokenizer.json has rstrip=true on <|assistant|>, <|end|>,
 *      <|user|>, </s> ...: "<|user|>\nHi" encodes as [32010, ▁Hi]);
 *   2. every remaining text segment is normalized on its own: "▁" prepended
 *      (if not empty), " " replaced by "▁";
 *   3. BPE over the segment's UTF-8 characters; a character missing from the
 *      vocabulary becomes its bytes <0xNN> (byte fallback), else <unk>.
 *      Bytes that are not valid UTF-8 are taken one at a time and go through
 *      byte fallback too, so any byte string encodes and decodes back.
 * Phi-3 ids: <unk> 0, <s> (BOS) 1, </s> 2, <0x00>..<0xFF> 3..258,
 * <|endoftext|> 32000 (EOS, PAD), <|assistant|> 32001, <|system|> 32006,
 * <|end|> 32007, <|user|> 32010.
 *
 * A tok_tokenizer is immutable after creation: encode/decode may run from
 * several threads at once. All text is UTF-8 bytes with explicit lengths. */
#ifndef PHI3VK_TOKENIZER_TOK_H
#define PHI3VK_TOKENIZER_TOK_H
#include <stddef.h>
#include <stdint.h>

typedef struct tok_tokenizer tok_tokenizer;

/* Piece types, numbered as GGUF tokenizer.ggml.token_type (llama.cpp). */
enum tok_type {
    TOK_TYPE_NORMAL = 1,       /* ordinary BPE piece */
    TOK_TYPE_UNKNOWN = 2,      /* <unk> in SentencePiece; llama.cpp's [PADn] padding */
    TOK_TYPE_CONTROL = 3,      /* special added token (<s>, <|end|> ...) */
    TOK_TYPE_USER_DEFINED = 4, /* added token that is not special (</s> in Phi-3) */
    TOK_TYPE_UNUSED = 5,       /* an id with no piece (a hole in tokenizer.json) */
    TOK_TYPE_BYTE = 6,         /* <0xNN> byte-fallback piece */
};

/* Flags of an added token (tokenizer.json "added_tokens" fields). */
enum tok_added_flag {
    TOK_ADDED_LSTRIP = 1,      /* swallows whitespace before the match */
    TOK_ADDED_RSTRIP = 2,      /* swallows whitespace after the match */
    TOK_ADDED_SINGLE_WORD = 4, /* matches only when not inside a word */
    TOK_ADDED_NORMALIZED = 8,  /* matched in the normalized text, not the raw text */
    TOK_ADDED_SPECIAL = 16,    /* special: skipped by TOK_DECODE_SKIP_SPECIAL,
                                  not matched with TOK_ENCODE_SPECIAL_AS_TEXT */
};

/* ---- loading ---- */

/* Loads a Hugging Face tokenizer.json: model.type "BPE" with model.vocab,
 * model.merges ("a b" strings or ["a", "b"] pairs), unk_token, byte_fallback,
 * fuse_unk; added_tokens with special/lstrip/rstrip/single_word/normalized;
 * normalizer null or Prepend / Replace (String pattern) / Sequence of those;
 * pre_tokenizer null. Anything else is an error naming the field.
 * If a tokenizer_config.json sits in the same folder, bos_token, eos_token,
 * pad_token and add_bos_token are read from it; otherwise bos = "<s>",
 * eos = "<|endoftext|>" (else "</s>"), pad = none, add_bos = 1.
 * Returns NULL and fills err on any failure, e.g.
 * "path: model.merges[7]: \"x\" + \"y\": the right part is not in model.vocab". */
tok_tokenizer *tok_load_json(const char *path, char *err, size_t errlen);

/* Same for tokenizer.json bytes in memory (not NUL-terminated; copied as
 * needed, so data may be freed afterwards). name is used in messages. No
 * tokenizer_config.json is read: bos/eos/pad and add_bos take the defaults. */
tok_tokenizer *tok_load_json_mem(const char *data, size_t len, const char *name, char *err,
                                 size_t errlen);

/* path is a tokenizer.json file, a folder holding one, or a GGUF file
 * (recognized by its "GGUF" magic; see tokenizer/tok_gguf.h). A folder
 * without tokenizer.json gives "DIR: no tokenizer.json in this folder (this
 * model ships no tokenizer: pass --tokenizer PATH to a tokenizer.json or a
 * folder with one, ...)"; a missing path names the path. */
tok_tokenizer *tok_load_path(const char *path, char *err, size_t errlen);

/* A SentencePiece-BPE vocabulary as GGUF tokenizer.ggml.* supplies it. */
typedef struct tok_spm_params {
    int32_t n_vocab;           /* number of pieces, 1 .. 2^21 - 1 */
    const char *const *pieces; /* [n_vocab] piece text, UTF-8, "▁" for space */
    const uint32_t *lens;      /* [n_vocab] byte lengths, or NULL: pieces are NUL-terminated */
    const float *scores;       /* [n_vocab] merge priority (higher merges first) */
    const int32_t *types;      /* [n_vocab] enum tok_type */
    const uint8_t *added_flags; /* [n_vocab] TOK_ADDED_LSTRIP/RSTRIP for added tokens, or NULL */
    int32_t bos_id;            /* -1 if none */
    int32_t eos_id;            /* -1 if none */
    int32_t unk_id;            /* -1 if none */
    int32_t pad_id;            /* -1 if none */
    int add_bos;               /* the vocabulary's add_bos_token (information only) */
    int no_space_prefix;       /* 1: no "▁" prepended to segments (add_space_prefix false) */
    const char *name;          /* source name for messages, e.g. the GGUF path */
} tok_spm_params;

/* Builds a tokenizer from SentencePiece arrays. NORMAL pieces are the BPE
 * vocabulary; every split of a NORMAL piece into two NORMAL pieces is a merge,
 * ranked by (score descending, piece id, left id, right id) - the order in
 * which Hugging Face's converter writes tokenizer.json merges, so both sources
 * agree (llama.cpp breaks score ties by position instead). CONTROL and
 * USER_DEFINED pieces (and the UNKNOWN piece unk_id) are added tokens matched
 * as whole strings; CONTROL ones are special. BYTE pieces "<0xNN>" are the
 * byte fallback. The arrays are copied. Returns NULL and fills err on bad
 * input (ids out of range, a BYTE piece not of the form <0xNN>, ...). */
tok_tokenizer *tok_create_spm(const tok_spm_params *p, char *err, size_t errlen);

/* Frees everything. Accepts NULL. */
void tok_destroy(tok_tokenizer *t);

/* ---- vocabulary (e.g. for writing GGUF tokenizer.ggml.*) ---- */

/* One entry of the vocabulary. */
typedef struct tok_piece_info {
    const char *text;  /* piece bytes (NUL-terminated, owned by the tokenizer) */
    size_t len;        /* byte length */
    float score;       /* as in llama.cpp's conversion (see tok_vocab_get) */
    int type;          /* enum tok_type */
    unsigned added;    /* enum tok_added_flag bits; 0 for non-added pieces */
} tok_piece_info;

/* Number of ids: largest id + 1 (32011 for Phi-3's tokenizer.json, 32064
 * for ggml-vocab-phi-3.gguf which pads to the model's vocab size). */
int32_t tok_n_vocab(const tok_tokenizer *t);

/* Fills *info for id; returns -1 if id is out of range.
 * Scores and types follow llama.cpp's convert_hf_to_gguf.py for Phi-3:
 * added tokens -1000 with type CONTROL (special) or USER_DEFINED; byte pieces
 * 0 / BYTE; normal pieces the SentencePiece score. tokenizer.json has no
 * scores, so they are reconstructed from the merge order: -(id - first normal
 * id), and -1e9 for pieces whose merges come after those of higher ids (Llama's
 * whitespace runs "▁▁", ...). This reproduces ggml-vocab-phi-3.gguf except for
 * "▁" (29871, -1e9 there), whose score no merge uses. If that reconstruction
 * does not match the merge order, -(first merge rank) is used. A GGUF writer
 * padding to the model's vocab size adds "[PAD<id>]", score -10000, type
 * UNKNOWN, like llama.cpp. Holes in a tokenizer.json's ids are "" / UNUSED. */
int tok_vocab_get(const tok_tokenizer *t, int32_t id, tok_piece_info *info);

/* Id of an exact piece text (any type, added tokens included), or -1. */
int32_t tok_find_piece(const tok_tokenizer *t, const char *text, size_t len);

int32_t tok_bos_id(const tok_tokenizer *t); /* 1 for Phi-3; -1 if none */
int32_t tok_eos_id(const tok_tokenizer *t); /* 32000 (<|endoftext|>); -1 if none */
int32_t tok_unk_id(const tok_tokenizer *t); /* 0; -1 if none */
int32_t tok_pad_id(const tok_tokenizer *t); /* 32000 when configured; -1 if none */
/* The source's add_bos_token (tokenizer_config.json / GGUF); information for
 * `inspect`: callers choose BOS explicitly with TOK_ENCODE_BOS. */
int tok_add_bos_default(const tok_tokenizer *t);
/* "tokenizer.json" or "spm": which kind of source built it. */
const char *tok_source_kind(const tok_tokenizer *t);

/* ---- encoding ---- */

/* A growable id vector. Zero-initialize; free with tok_ids_free. */
typedef struct tok_ids {
    int32_t *ids;  /* [n] token ids */
    size_t n;      /* ids in use */
    size_t cap;    /* allocated */
} tok_ids;

/* Frees v->ids and zeroes *v. Accepts NULL. */
void tok_ids_free(tok_ids *v);
/* Appends id, growing the vector. Returns 0, or -1 when out of memory. */
int tok_ids_push(tok_ids *v, int32_t id);

enum tok_encode_flag {
    TOK_ENCODE_BOS = 1,             /* prepend the BOS id (error if there is none) */
    TOK_ENCODE_SPECIAL_AS_TEXT = 2, /* do not match special added tokens in the text:
                                       "<|end|>" is encoded as characters (HF
                                       encode_special_tokens); non-special added
                                       tokens (</s>) still match */
};

/* Encodes text[0, len) and APPENDS the ids to out. Any bytes are accepted.
 * Returns 0, or -1 with err filled on allocation failure or when
 * TOK_ENCODE_BOS is asked for and the tokenizer has no BOS. */
int tok_encode(const tok_tokenizer *t, const char *text, size_t len, unsigned flags, tok_ids *out,
               char *err, size_t errlen);

/* ---- decoding ---- */

enum tok_decode_flag {
    TOK_DECODE_SKIP_SPECIAL = 1,       /* special added tokens produce no text */
    TOK_DECODE_KEEP_LEADING_SPACE = 2, /* do not strip the first leading space */
    TOK_DECODE_RAW_BYTES = 4,          /* emit byte pieces as raw bytes, even when they do
                                          not form valid UTF-8 (exact inverse of encode) */
};

/* Decodes ids into a malloc'ed NUL-terminated string (*out, length *out_len;
 * free with free()). Like Hugging Face's Llama decoder: "▁" -> " ", runs of
 * <0xNN> pieces reassembled into UTF-8, one leading space of the whole text
 * stripped, added tokens printed as their text. Bytes that do not form valid
 * UTF-8 become U+FFFD each (HF replaces the whole byte run then) unless
 * TOK_DECODE_RAW_BYTES. Returns -1 with err for an id outside
 * [0, tok_n_vocab) or allocation failure. */
int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **out,
               size_t *out_len, char *err, size_t errlen);

/* Streaming decoder for generation: feed ids one by one; each push returns
 * only complete UTF-8 characters (a character split across byte pieces is
 * held back until its last byte arrives). The concatenation of all pushes
 * and the final flush equals tok_decode of the same ids. */
typedef struct tok_stream tok_stream;

/* flags: enum tok_decode_flag. NULL on allocation failure. The tokenizer
 * must outlive the stream. */
tok_stream *tok_stream_create(const tok_tokenizer *t, unsigned flags);
/* Feeds one id. Returns the text now complete (*len bytes, NUL-terminated,
 * valid until the next call on s; may be empty), or NULL with err for a bad
 * id or allocation failure. */
const char *tok_stream_push(tok_stream *s, int32_t id, size_t *len, char *err, size_t errlen);
/* Ends the stream: bytes still held (an incomplete character) come out as
 * U+FFFD each (raw with TOK_DECODE_RAW_BYTES). The stream restarts empty. */
const char *tok_stream_flush(tok_stream *s, size_t *len);
/* Frees. Accepts NULL. */
void tok_stream_destroy(tok_stream *s);

/* ---- Phi-3 chat template ---- */

/* One chat message. */
typedef struct tok_chat_msg {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* UTF-8, NUL-terminated */
} tok_chat_msg;

/* Renders Phi-3-mini-4k-instruct's chat template into a malloc'ed string:
 *   system:    "<|system|>\n{content}<|end|>\n"
 *   user:      "<|user|>\n{content}<|end|>\n"
 *   assistant: "<|assistant|>\n{content}<|end|>\n"
 * then "<|assistant|>\n" when add_generation_prompt, else "<|endoftext|>"
 * (as the template does). BOS is not part of the text: tok_chat_encode adds
 * its id. Returns NULL with err for an unknown role or allocation failure. */
char *tok_chat_render(const tok_chat_msg *msgs, size_t n, int add_generation_prompt, char *err,
                      size_t errlen);

enum tok_chat_flag {
    TOK_CHAT_NO_BOS = 1,                /* do not prepend BOS (id 1) */
    TOK_CHAT_NO_GENERATION_PROMPT = 2,  /* end with <|endoftext|>, not <|assistant|>\n */
    TOK_CHAT_CONTENT_AS_TEXT = 4,       /* special tokens inside message contents are
                                           encoded as text, so a message cannot
                                           inject <|end|><|assistant|> */
};

/* Renders msgs and APPENDS the ids of BOS (unless TOK_CHAT_NO_BOS; the
 * April-2024 Phi-3-mini-4k-instruct the toxicity judge was tuned from began
 * with BOS) + the encoded text to out. The encoding is tok_encode's, so the
 * tokenizer's rstrip flags apply. One user message "Hi" gives
 *   current Phi-3 tokenizer.json (rstrip, the "\n"s are swallowed):
 *     [1, 32010 <|user|>, 6324 ▁Hi, 32007 <|end|>, 32001 <|assistant|>]
 *   April-2024 tokenizer.json (no rstrip, each "\n" kept):
 *     [1, 32010, 29871 ▁, 13 \n, 18567 Hi, 32007, 29871, 13, 32001, 29871, 13]
 * The GGUF source follows llama.cpp, which sets rstrip like the current file.
 * Returns 0, or -1 with err. */
int tok_chat_encode(const tok_tokenizer *t, const tok_chat_msg *msgs, size_t n, unsigned flags,
                    tok_ids *out, char *err, size_t errlen);

#endif
