/* A Phi-3 checkpoint opened for loading: a Hugging Face folder or a GGUF
 * file, seen through one canonical list of weights, and the streaming row
 * readers the GPU uploader uses: F32/BF16/F16 -> F16, any type -> F32, and
 * the raw blocks of a quantized GGUF tensor (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K:
 * formats/quant.h).
 *
 * Hugging Face folder: config.json, generation_config.json (optional), and
 * model.safetensors or model-0000k-of-0000n.safetensors +
 * model.safetensors.index.json. Tensor names:
 *   model.embed_tokens.weight                       EMBD      [vocab, hidden]
 *   model.layers.N.input_layernorm.weight           ATTN_NORM [hidden]
 *   model.layers.N.self_attn.qkv_proj.weight        QKV       [(heads + 2 kv_heads) head_dim, hidden], rows q|k|v
 *   model.layers.N.self_attn.o_proj.weight          O         [hidden, heads head_dim]
 *   model.layers.N.post_attention_layernorm.weight  FFN_NORM  [hidden]
 *   model.layers.N.mlp.gate_up_proj.weight          GATE_UP   [2 intermediate, hidden], rows gate|up
 *   model.layers.N.mlp.down_proj.weight             DOWN      [hidden, intermediate]
 *   model.norm.weight                               OUTPUT_NORM [hidden]
 *   lm_head.weight                                  OUTPUT    [vocab, hidden] (EMBD when tie_word_embeddings)
 *
 * GGUF file (general.architecture = phi3): token_embd, blk.N.attn_norm,
 * blk.N.attn_qkv, blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_up (rows
 * gate|up), blk.N.ffn_down, output_norm, output (optional: falls back to
 * token_embd), each with ".weight". GGUF lists dimensions fastest first
 * (ne[0] = columns); phi3_tensor is always [rows, cols]. The config comes
 * from phi3.* keys (see phi3_source_open) and LongRoPE factors from the
 * rope_factors_long/short.weight tensors.
 *
 * Shapes are given and checked row-major, rows first, in every message:
 *   "ckpt/model.safetensors: tensor model.layers.3.self_attn.qkv_proj.weight: expected [9216, 3072], got [9216, 3000]". */
#ifndef PHI3VK_MODEL_SOURCE_H
#define PHI3VK_MODEL_SOURCE_H
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/tensors.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

typedef struct phi3_source phi3_source;

/* One tensor in a checkpoint file, row-major. */
typedef struct phi3_tensor {
    const char *name;        /* name in the file (owned by the source) */
    const char *file;        /* path of the file holding it (messages) */
    fmt_dtype dtype;        /* F32, F16, BF16, or OTHER (not convertible) */
    const char *dtype_name;  /* "F32", "BF16", "Q4_K", "I64", ... */
    int n_dims;              /* 0 .. 8 */
    uint64_t shape[8];       /* rows-first (slowest first); GGUF dims are reversed into this order */
    uint64_t rows, cols;     /* 2-D view: cols = last dim, rows = product of the others; 1-D: rows = 1 */
    uint64_t bytes;          /* data size in bytes */
    const void *data;        /* in the read-only mapping; not aligned */
    uint32_t qtype;          /* a GGUF tensor of another type than F32/F16/BF16: its ggml type
                                (dtype is then OTHER; readable when fmt_quant_supported); else 0 */
} phi3_tensor;

/* Overflow accounting of phi3_source_read_rows_f16 (zero it before the
 * first call; calls accumulate). fp16 tops out at 65504: a larger finite
 * value, or an infinity, is written as +-65504 and counted here, never as
 * inf; the caller reports it. NaN stays NaN and is counted. */
typedef struct phi3_convert_stats {
    uint64_t n_values;       /* values converted */
    uint64_t n_overflow;     /* values clamped to +-65504 */
    uint64_t n_nan;          /* NaN values */
    double max_abs;          /* largest |x| among the clamped values (inf if an input was inf) */
    char first_name[128];    /* first tensor with a clamped or NaN value; "" when none */
} phi3_convert_stats;

/* Opens path: a folder (Hugging Face layout) or a .gguf file. Reads and
 * validates the config, opens the weights, and checks that every weight
 * of every layer is present with the expected shape and a readable type
 * (F32, F16, BF16; in a GGUF also Q8_0, Q4_0, Q4_K, Q5_K, Q6_K). A tensor of
 * another type is an error naming it, its type, and how many other
 * weights have unreadable types ("...: unsupported tensor type Q5_0 ...;
 * 63 more weights are Q5_0"). GGUF keys read: phi3.embedding_length,
 * feed_forward_length, block_count, context_length, attention.head_count,
 * attention.head_count_kv (default head_count),
 * attention.layer_norm_rms_epsilon, rope.freq_base (default 10000),
 * rope.dimension_count (must equal head_dim when present),
 * attention.sliding_window (default 0), rope.scaling.original_context_length
 * (default context_length), rope.scaling.attn_factor (LongRoPE),
 * tokenizer.ggml.bos/eos/padding_token_id; vocab = rows of token_embd.
 * Returns NULL with err naming the file and field/tensor on any failure. */
phi3_source *phi3_source_open(const char *path, char *err, size_t errlen);

/* Unmaps and frees; accepts NULL. Pointers from the getters die with it. */
void phi3_source_close(phi3_source *src);

/* The validated config (with stop ids). */
const phi3_config *phi3_source_config(const phi3_source *src);

/* The weight of kind for layer (ignored for the global kinds). NULL for a
 * layer out of range. PHI3_W_OUTPUT returns the EMBD tensor when the model
 * ties them (tie_word_embeddings, or no output.weight in a GGUF). */
const phi3_tensor *phi3_source_weight(const phi3_source *src, phi3_weight_kind kind, int layer);

/* 1 when lm_head is the embedding matrix. */
int phi3_source_output_is_tied(const phi3_source *src);

/* Every tensor in the checkpoint's files (for `phi3vk inspect`), in file
 * order (for shards: sorted by name). */
uint64_t phi3_source_tensor_count(const phi3_source *src);
const phi3_tensor *phi3_source_tensor_at(const phi3_source *src, uint64_t i);

/* The path given to open. */
const char *phi3_source_path(const phi3_source *src);
/* The Hugging Face folder (where tokenizer.json may live); NULL for GGUF. */
const char *phi3_source_dir(const phi3_source *src);
/* The GGUF handle (its tokenizer.ggml.* keys feed the tokenizer); NULL for
 * a Hugging Face folder. Owned by the source. */
const fmt_gguf *phi3_source_gguf(const phi3_source *src);

/* Converts rows [row0, row0 + nrows) of t (a weight of this source; a 1-D
 * tensor is one row) from F32, BF16, F16 or a block type (dequantized) to
 * fp16, rounding to nearest
 * even, into dst: row r goes to dst[r * dst_ld .. r * dst_ld + cols), and
 * the pad columns [cols, dst_ld) are set to 0. dst holds nrows * dst_ld
 * values. Reads straight from the mapping (no copy of the tensor) and then
 * drops the pages read from this process's resident set. Overflows are
 * clamped and counted in stats (may be NULL). src may be NULL for a
 * phi3_tensor the caller built over its own memory (tests): it is converted
 * the same way and its pages are left alone. Returns 0, or -1 with err
 * (rows out of range, dst_ld < cols, unsupported dtype). Thread-safe for
 * distinct dst/stats. */
int phi3_source_read_rows_f16(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows,
                              uint16_t *dst, uint64_t dst_ld, phi3_convert_stats *stats, char *err, size_t errlen);

/* The ggml type of t (FMT_GGML_F32 / _F16 / _BF16, its qtype for a block
 * type); UINT32_MAX for a type no reader here takes. */
uint32_t phi3_tensor_type(const phi3_tensor *t);

/* Rows [row0, row0 + nrows) of t as float32 values, nrows * cols at dst:
 * F32 copied, F16 and BF16 widened exactly, block types dequantized as ggml
 * does (fmt_dequantize_row). Reads under the SIGBUS guard like
 * phi3_source_read_rows_f16 (a file that shrank is an error naming the
 * tensor) and drops the pages read. src may be NULL as there. Returns 0, or
 * -1 with err (rows out of range, an unreadable type). */
int phi3_source_read_rows_f32(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, float *dst,
                              char *err, size_t errlen);

/* The stored bytes of rows [row0, row0 + nrows) of t, copied to dst
 * (nrows * phi3_tensor_row_bytes(t) bytes): a quantized tensor's blocks as
 * the file holds them. Guarded and released as above. 0 or -1 with err. */
int phi3_source_read_rows_raw(const phi3_source *src, const phi3_tensor *t, uint64_t row0, uint64_t nrows, void *dst,
                              char *err, size_t errlen);
/* Bytes of one stored row of t (0 for an unreadable type). */
uint64_t phi3_tensor_row_bytes(const phi3_tensor *t);

#endif
