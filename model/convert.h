/* Hugging Face Phi-3 folder -> F16 GGUF, laid out the way llama.cpp's own
 * converter (convert_hf_to_gguf.py, class Phi3MiniModel, with --outtype f16)
 * writes the phi3 architecture, so that llama.cpp and phi3vk both load it;
 * or quantized (Q8_0, Q4_0, Q4_K, Q4_K_M) with the tensor types
 * llama-quantize gives them (model/tensors.h, phi3_quant_type), in ggml's
 * block layouts (formats/quant.h).
 *
 * Tensors (shapes as GGUF ne[], fastest dimension first; H hidden, F
 * intermediate, V vocab_size, Q = (heads + 2 kv_heads) head_dim):
 *   rope_factors_long.weight, rope_factors_short.weight  F32 [head_dim/2]  (LongRoPE only)
 *   token_embd.weight             F16 [H, V]
 *   blk.N.attn_norm.weight        F32 [H]
 *   blk.N.attn_qkv.weight         F16 [H, Q]        rows q|k|v as in qkv_proj
 *   blk.N.attn_output.weight      F16 [heads head_dim, H]
 *   blk.N.ffn_norm.weight         F32 [H]
 *   blk.N.ffn_up.weight           F16 [H, 2F]       rows gate|up as in gate_up_proj
 *   blk.N.ffn_down.weight         F16 [F, H]
 *   output_norm.weight            F32 [H]
 *   output.weight                 F16 [H, V]        (absent when tie_word_embeddings)
 * Norms and other 1-D tensors stay F32 because the converter forces every
 * tensor with n_dims <= 1 or a name ending in "_norm.weight" to F32. With a
 * quantization scheme the F16 matrices above get its types instead.
 *
 * Metadata, in the converter's order: general.architecture "phi3",
 * phi3.rope.scaling.attn_factor (LongRoPE only: the converter adds it while
 * generating the factor tensors, before the other keys), general.type
 * "model", general.name, phi3.context_length,
 * phi3.rope.scaling.original_context_length, phi3.embedding_length,
 * phi3.feed_forward_length, phi3.block_count, phi3.attention.head_count,
 * phi3.attention.head_count_kv, phi3.attention.layer_norm_rms_epsilon,
 * phi3.rope.dimension_count, phi3.rope.freq_base, general.file_type (1 =
 * MOSTLY_F16; 7 Q8_0, 2 Q4_0, 14 Q4_K_S, 15 Q4_K_M), phi3.attention.sliding_window (0 when the config has none),
 * tokenizer.ggml.model
 * "llama", tokenizer.ggml.pre "default", tokenizer.ggml.tokens / scores /
 * token_type (vocab_size entries), tokenizer.ggml.bos / eos / unknown /
 * padding_token_id, tokenizer.ggml.add_bos_token, add_eos_token,
 * tokenizer.chat_template (when known), general.quantization_version 2.
 * phi3vk adds one key of its own, phi3vk.stop_token_ids (UINT32 array, after
 * phi3.attention.sliding_window): every stop id of generation_config.json,
 * which the one eos_token_id cannot hold (the judge's 32000, 32001, 32007);
 * phi3_source_open reads it back, llama.cpp ignores it.
 * (model/gguf_write.h also writes general.alignment = 32, the default.)
 *
 * Everything streams: weights go through phi3_source_read_rows_f16 (or _f32
 * and the quantizer) a few MB at a time, so memory stays far below the model
 * size; every read of the input runs under the mapping's SIGBUS guard. */
#ifndef PHI3VK_MODEL_CONVERT_H
#define PHI3VK_MODEL_CONVERT_H
#include <stddef.h>
#include <stdint.h>

#include "formats/gguf_write.h"
#include "model/source.h"
#include "tokenizer/tok.h"

/* What a tokenizer's tokenizer_config.json adds to the tokenizer itself, for
 * GGUF's tokenizer.* keys (and `phi3vk inspect`). */
typedef struct phi3_tokcfg {
    char *chat_template;  /* chat_template (a Jinja string), malloc'd; NULL when absent */
    int add_bos;          /* add_bos_token: 0 / 1, -1 when absent */
    int add_eos;          /* add_eos_token: 0 / 1, -1 when absent */
    char path[4096];      /* the file these came from; "" when none was found */
} phi3_tokcfg;

/* Fills *c for a tokenizer path as tok_load_path takes it: a tokenizer.json
 * (reads the tokenizer_config.json beside it), a folder (its
 * tokenizer_config.json), or a GGUF file (its tokenizer.chat_template,
 * tokenizer.ggml.add_bos_token / add_eos_token). A missing
 * tokenizer_config.json is not an error: *c is then empty (NULL, -1, -1, "").
 * A chat_template given as a list of {name, template} uses the one named
 * "default". Returns 0, or -1 with err naming the file and field (bad JSON,
 * wrong type). Free with phi3_tokcfg_free. */
int phi3_tokcfg_load(const char *tok_path, phi3_tokcfg *c, char *err, size_t errlen);

/* Frees c->chat_template and empties *c. Accepts NULL. */
void phi3_tokcfg_free(phi3_tokcfg *c);

/* Called after each tensor is written: tensor index (0-based) of count,
 * its GGUF name, and the tensor bytes written so far of the total. */
typedef void (*phi3_convert_progress_fn)(void *ctx, int index, int count, const char *name, uint64_t bytes_done,
                                         uint64_t bytes_total);

/* 1 when name contains "phi3" or "phi-3" in any case. llama.cpp gives the
 * Phi-3 added tokens their rstrip flags (as the current tokenizer.json has
 * them: "<|user|>\nHi" -> [<|user|>, ▁Hi]) only for such a general.name;
 * otherwise it keeps the whitespace after them and tokenizes chat prompts
 * differently from Hugging Face and phi3vk. */
int phi3_convert_name_marks_phi3(const char *name);

/* The general.name used without one: the folder's name, or <name> for a
 * Hugging Face cache snapshot .../models--<org>--<name>/snapshots/<commit>,
 * prefixed with "Phi-3 " unless phi3_convert_name_marks_phi3 already holds.
 * Writes at most n bytes (NUL included) to out. */
void phi3_convert_default_name(const char *src_path, char *out, size_t n);

/* Writes the phi3.* model keys and general.architecture / type / name /
 * file_type (llama.cpp: 0 all F32, 1 mostly F16, 32 mostly BF16) in the
 * order llama.cpp's converter does, then phi3vk.stop_token_ids (when the
 * config has stop ids). Shared by convert and model/synth. */
void phi3_convert_model_keys(fmt_gguf_writer *w, const phi3_config *c, const char *name, uint32_t file_type);

/* Adds the tokenizer.ggml.* keys of tok (its ids padded to c->vocab, see
 * phi3_convert_gguf), tokenizer.chat_template from tc (may be NULL) and
 * general.quantization_version to w. path names the model in errors.
 * Returns the number of padding entries (>= 0), or -1 with err (more ids
 * than c->vocab, a NUL byte in a token, out of memory). Shared by convert
 * and model/synth. */
int phi3_convert_tokenizer_keys(fmt_gguf_writer *w, const tok_tokenizer *tok, const phi3_config *c,
                                const phi3_tokcfg *tc, const char *path, char *err, size_t errlen);

typedef struct phi3_convert_opts {
    const char *name;           /* general.name, as given; NULL or "": phi3_convert_default_name */
    phi3_quant quant;           /* how the matrices are stored (model/tensors.h); NONE: F16 */
    const phi3_tokcfg *tokcfg;  /* chat template and add_bos/add_eos; NULL: no template, add_bos from
                                   the tokenizer, add_eos false */
    phi3_convert_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    int threads;                /* threads quantizing the rows of a block type at once (the bytes do
                                   not depend on it); <= 0: one per processor */
} phi3_convert_opts;

typedef struct phi3_convert_result {
    phi3_convert_stats stats;   /* fp16 clamping / NaN counts over the F16 tensors */
    int n_tensors;              /* tensors written */
    uint64_t tensor_bytes;      /* bytes of tensor data (without padding) */
    int32_t n_pad;              /* vocabulary entries added as "[PAD<id>]" */
} phi3_convert_result;

/* Writes src (a Hugging Face folder opened with phi3_source_open) and tok as
 * a GGUF at out_path, F16 or quantized by o->quant. The file is written to "<out_path>.tmp", flushed
 * to disk and renamed to out_path only when complete; on failure no file is
 * left at either path (an existing out_path stays untouched). out_path "-"
 * streams the file to standard output instead (nothing is written to disk).
 *
 * Vocabulary: tok's ids 0 .. tok_n_vocab-1 with tok_vocab_get's text, score
 * and type; ids beyond them up to the model's vocab_size (Phi-3: 32011 ->
 * 32064), and holes, become "[PAD<id>]", score -10000, type UNUSED, as
 * Phi3MiniModel.set_vocab fills them. A tokenizer with more ids than
 * vocab_size is an error. Special ids: the tokenizer's (from its
 * tokenizer_config.json), else config.json's, as gguf-py's SpecialVocab
 * does; tok_unk_id for unknown_token_id.
 *
 * res (may be NULL) receives counts; values beyond fp16's range are clamped
 * to +-65504 and counted there (llama.cpp's numpy cast would store inf).
 * Returns 0, or -1 with err: a GGUF source, a NULL tokenizer, vocabulary
 * mismatch, out_path a folder, an input file that shrank while being read,
 * or an I/O error naming the path. */
int phi3_convert_gguf(const phi3_source *src, const tok_tokenizer *tok, const phi3_convert_opts *o, const char *out_path,
                      phi3_convert_result *res, char *err, size_t errlen);

#endif
