/* Phi-3 model configuration: Hugging Face config.json + generation_config.json
 * parsed into a plain struct, validated, and written back (for the synthetic
 * checkpoint writer).
 *
 * Every error message names the file, the field, what was expected and what
 * was found, e.g.
 *   "config.json: field num_key_value_heads: expected a divisor of num_attention_heads (32), found 5". */
#ifndef PHI3VK_MODEL_CONFIG_H
#define PHI3VK_MODEL_CONFIG_H
#include <stddef.h>

#define PHI3_MAX_HEAD_DIM 512   /* largest head_dim accepted (Phi-3-mini: 96) */
#define PHI3_MAX_STOP_IDS 16    /* most stop ids kept from generation_config.json */
/* GGUF key (UINT32 array) of every stop id, written by convert and synth */
#define PHI3_GGUF_STOP_IDS "phi3vk.stop_token_ids"
#define PHI3_MAX_DIM 1000000    /* larger sizes are rejected as absurd */

typedef enum phi3_rope_scaling {
    PHI3_ROPE_NONE = 0,      /* plain RoPE (rope_scaling: null) */
    PHI3_ROPE_LONGROPE = 1,  /* LongRoPE, rope_scaling.type "longrope" or its old name "su" */
} phi3_rope_scaling;

typedef struct phi3_config {
    int hidden;               /* hidden_size: model width, e.g. 3072 */
    int intermediate;         /* intermediate_size: FFN width, e.g. 8192 (gate_up has 2x rows) */
    int n_layers;             /* num_hidden_layers, e.g. 32 */
    int n_heads;              /* num_attention_heads, e.g. 32 */
    int n_kv_heads;           /* num_key_value_heads (defaults to n_heads) */
    int head_dim;             /* derived: hidden / n_heads, e.g. 96; even, <= PHI3_MAX_HEAD_DIM */
    int vocab;                /* vocab_size: rows of the embedding and lm_head, e.g. 32064 */
    double rms_eps;           /* rms_norm_eps, e.g. 1e-5 */
    double rope_theta;        /* rope_theta (RoPE base), e.g. 10000 */
    int max_pos;              /* max_position_embeddings: context length, tokens */
    int orig_max_pos;         /* original_max_position_embeddings (defaults to max_pos) */
    int sliding_window;       /* sliding_window in tokens; 0 = none (null in config.json) */
    phi3_rope_scaling rope_scaling;
    /* LongRoPE only: per-frequency divisors, head_dim/2 used. short_factor
     * applies while the sequence fits orig_max_pos, long_factor beyond. */
    float short_factor[PHI3_MAX_HEAD_DIM / 2];
    float long_factor[PHI3_MAX_HEAD_DIM / 2];
    /* derived (or rope_scaling.attention_factor): multiplier of cos/sin for
     * LongRoPE, sqrt(1 + ln(max_pos/orig_max_pos) / ln(orig_max_pos)) when
     * max_pos > orig_max_pos, else 1. Always 1 for PHI3_ROPE_NONE. */
    double rope_attn_factor;
    int bos_id;               /* bos_token_id, -1 = none */
    int eos_id;               /* eos_token_id, -1 = none */
    int pad_id;               /* pad_token_id, -1 = none */
    int tie_word_embeddings;  /* 1: lm_head shares the embedding matrix */
    int n_stop;               /* number of stop ids */
    int stop_ids[PHI3_MAX_STOP_IDS]; /* generation stops at any of these */
} phi3_config;

/* Parses config.json text (len bytes, need not be NUL-terminated) into *cfg,
 * validates it (phi3_config_validate) and sets the default stop ids
 * (phi3_config_default_stops). file is the name used in messages. Required
 * fields: model_type ("phi3"), hidden_size, intermediate_size,
 * num_hidden_layers, num_attention_heads, vocab_size; the others take
 * Phi3Config's defaults. Returns 0, or -1 with err (bad JSON, wrong
 * model_type, wrong type or range of a field, inconsistent sizes). */
int phi3_config_parse(phi3_config *cfg, const char *json, size_t len, const char *file, char *err, size_t errlen);

/* Parses generation_config.json text: eos_token_id (an integer or a list of
 * up to PHI3_MAX_STOP_IDS integers, each in [0, cfg->vocab)) replaces the
 * stop ids. A file without eos_token_id leaves them unchanged. Returns 0, or
 * -1 with err. cfg must already hold a parsed config. */
int phi3_config_parse_generation(phi3_config *cfg, const char *json, size_t len, const char *file, char *err,
                                 size_t errlen);

/* Reads dir/config.json and, when present, dir/generation_config.json.
 * Returns 0, or -1 with err (a missing config.json is an error). */
int phi3_config_load(phi3_config *cfg, const char *dir, char *err, size_t errlen);

/* Sets the stop ids used without a generation_config.json: eos_id and 32007
 * (Phi-3's <|end|>), each only if it lies in [0, vocab), without repeats. */
void phi3_config_default_stops(phi3_config *cfg);

/* Computes the derived fields (head_dim, rope_attn_factor unless already set
 * by the file, i.e. when it is 0) and checks every field: positive sizes <=
 * PHI3_MAX_DIM, hidden % n_heads == 0, n_heads % n_kv_heads == 0, head_dim
 * even and <= PHI3_MAX_HEAD_DIM, rms_eps in (0, 1), rope_theta > 0 and
 * finite, orig_max_pos <= max_pos, LongRoPE factors finite and > 0, token
 * ids < vocab and stop ids in range. file names the source in messages
 * (config.json or a .gguf). Returns 0, or -1 with err. */
int phi3_config_validate(phi3_config *cfg, const char *file, char *err, size_t errlen);

/* config.json text for cfg with the field names and layout of a real Phi-3
 * checkpoint; torch_dtype is "float32", "float16" or "bfloat16". Returns a
 * malloc'd NUL-terminated string (caller frees) or NULL when out of memory. */
char *phi3_config_to_json(const phi3_config *cfg, const char *torch_dtype);

/* generation_config.json text: bos_token_id, eos_token_id (the stop ids, a
 * list), pad_token_id. malloc'd, caller frees; NULL when out of memory. */
char *phi3_config_generation_to_json(const phi3_config *cfg);

#endif
