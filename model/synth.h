/* Random-weight Phi-3 checkpoints for tests and benchmarks: the exact
 * Hugging Face layout (config.json, generation_config.json, model.safetensors
 * or model-0000k-of-0000n.safetensors + model.safetensors.index.json) in F32,
 * F16 or BF16, or one GGUF file with the phi3 metadata, and a tokenizer
 * when one is given.
 *
 * Weights are a pure function of (seed, weight kind, layer, element index),
 * so any element can be re-derived without the file (phi3_synth_values) and
 * the output does not depend on how it was chunked. Data is generated and
 * written in chunks of about 1M elements: memory stays a few MB for any
 * model size (the full phi3-mini in F32 is 15 GB). */
#ifndef PHI3VK_MODEL_SYNTH_H
#define PHI3VK_MODEL_SYNTH_H
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "formats/safetensors.h"
#include "model/source.h"

typedef struct phi3_synth_opts {
    phi3_config cfg;     /* model shape and config.json values; validated by write */
    fmt_dtype dtype;    /* F32, F16 or BF16: matrices (and, for HF, norms too) */
    int shards;          /* HF: number of .safetensors files; 1 = model.safetensors */
    int gguf;            /* 1: write one GGUF file at OUT (norms and LongRoPE factors stay F32) */
    phi3_quant quant;    /* GGUF: NONE = every matrix in dtype; else the matrices quantized as
                            `phi3vk convert --type` stores them (model/tensors.h) */
    uint64_t seed;       /* any value; same seed, same bytes */
    int threads;         /* threads generating (and quantizing) a chunk at once; <= 0: one per
                            processor. The bytes do not depend on it */
    float std;           /* standard deviation of the matrices other than the embedding (0.06) */
    float embd_std;      /* standard deviation of the embedding (and untied lm_head) (1.0) */
    const char *tokenizer; /* NULL: none. A tokenizer.json, a folder with one, or a GGUF with a
                            * vocabulary: an HF folder gets copies of tokenizer.json and the
                            * tokenizer_config.json / special_tokens_map.json beside it (byte for
                            * byte; a GGUF vocabulary cannot be written as tokenizer.json: an
                            * error), a GGUF file its tokenizer.ggml.* keys as convert writes them.
                            * Its ids must fit cfg.vocab. */
} phi3_synth_opts;

/* Fills cfg with a named shape: "tiny" (hidden 128, ffn 256, 2 layers,
 * 4 heads, vocab 32064 so the real tokenizer fits, ctx 4096, sliding window
 * 2047) or "phi3-mini" (Phi-3-mini-4k: 3072, 8192, 32 layers, 32 heads,
 * vocab 32064, ctx 4096, sliding window 2047). Stop ids 32000, 32001, 32007
 * as the judge's generation_config.json. Returns 0, or -1 with err naming
 * the unknown preset. */
int phi3_synth_preset(phi3_config *cfg, const char *name, char *err, size_t errlen);

/* Defaults: the tiny preset, F32, 1 shard, HF layout, seed 1, std 0.06,
 * embd_std 1.0. */
void phi3_synth_defaults(phi3_synth_opts *o);

/* Sets LongRoPE on cfg: orig_max_pos = orig_ctx (< cfg->max_pos) and
 * deterministic factors (short 1 .. 1.05, long 1 .. 4 over the head_dim/2
 * frequencies). Call after the sizes are final. */
void phi3_synth_longrope(phi3_config *cfg, int orig_ctx);

/* Checks o (config, dtype, 1 <= shards <= tensor count, std > 0) without
 * writing anything: what phi3_synth_write checks first. Returns 0, or -1
 * with err naming the option. */
int phi3_synth_validate(const phi3_synth_opts *o, char *err, size_t errlen);

/* Writes the checkpoint: for HF, out is a folder (created if missing; files
 * in it overwritten, and weight files of an earlier checkpoint there,
 * model.safetensors, model-*-of-*.safetensors and the index, removed first
 * so none is left stale); for GGUF, out is the file ("-": standard output).
 * Validates o first (phi3_synth_validate). Returns 0, or -1 with err naming
 * the file or option; a failed write may leave partial files. Whether out
 * may be overwritten is the caller's decision. */
int phi3_synth_write(const phi3_synth_opts *o, const char *out, char *err, size_t errlen);

/* Elements [first, first + n) (row-major) of the weight kind / layer as
 * written, before rounding to the file's dtype: matrices std x noise (the
 * embedding and lm_head embd_std x noise), norm weights 1 + 0.1 x noise,
 * noise a sum of four uniforms scaled to unit variance. For a tied model
 * PHI3_W_OUTPUT gives the embedding's values. */
void phi3_synth_values(const phi3_synth_opts *o, phi3_weight_kind kind, int layer, uint64_t first, uint64_t n, float *out);

/* x rounded to bfloat16 (nearest even), as the BF16 writer stores it. */
uint16_t phi3_synth_f32_to_bf16(float x);

#endif
