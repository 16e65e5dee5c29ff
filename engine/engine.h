/* phi3vk's public API: run a Phi-3 model on a Vulkan device.
 *
 *   eng_model *m = eng_model_open("path/to/folder-or.gguf", &opts, err, sizeof err);
 *   eng_ctx *c = eng_ctx_create(m, &(eng_ctx_opts){.n_ctx = 4096}, err, sizeof err);
 *   eng_ctx_eval(c, ids, n, err, sizeof err);          // prefill: logits of the last token
 *   const float *logits = eng_ctx_logits(c, NULL);     // [vocab]
 *   eng_ctx_decode_greedy(c, id, &next, err, sizeof err); // one decode step, argmax on device
 *   eng_ctx_destroy(c); eng_model_close(m);
 *
 * A model owns its device weights (fp16, converted while streaming from F32,
 * BF16 or F16 files), the Vulkan runtime (unless one is passed in) and, when
 * the checkpoint has one, the tokenizer. A context owns one sequence: its fp16
 * KV cache, scratch buffers and the pre-recorded decode command buffer.
 * Functions returning int give 0 on success and -1 with a message in err.
 */
#ifndef PHI3VK_MODEL_PHI3_H
#define PHI3VK_MODEL_PHI3_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "vk/vkr.h"

typedef struct eng_model eng_model;
typedef struct eng_ctx eng_ctx;
typedef struct tok_tokenizer tok_tokenizer;

typedef struct eng_model_opts {
    vkr_ctx *vk;             /* use this runtime (not owned unless take_vk); NULL: create one from
                                the fields below */
    int take_vk;             /* 1: the model destroys vk when it is closed (also when opening fails) */
    const char *device_profile; /* when creating the runtime: vkr_ctx_opts.device_profile */
    const char *device;      /* --device: index or name substring; NULL = default rule */
    int validate;            /* Khronos validation layer on */
    int verbose;             /* print device, memory use and load progress on stderr */
    int profile;             /* timestamp queries (eng_ctx_profile) */
    const char *cache_dir;   /* pipeline cache folder (NULL: default, "": none) */
    const char *tokenizer;   /* tokenizer.json or folder overriding the checkpoint's; NULL: the
                                checkpoint's own (a model without one still runs on ids) */
    int max_layers;          /* > 0: load only the first N layers (benchmarks) */
} eng_model_opts;

/* Opens a Hugging Face folder (config.json + safetensors) or a GGUF file and
 * uploads every weight to the device as fp16. Values that overflow fp16 are
 * clamped to +-65504, counted and reported on stderr (name, count, max |x|).
 * Returns NULL with a message in err (missing/broken files, a tensor of the
 * wrong shape, too little device memory). */
eng_model *eng_model_open(const char *path, const eng_model_opts *opts, char *err, size_t errlen);
/* A model with seeded random weights of the shape synth->cfg, generated on
 * the host in chunks and streamed to the device: the same values
 * phi3_synth_write puts in a file (model/synth.h), so a C reference can
 * recompute them. For benchmarks without a download. */
struct phi3_synth_opts;
eng_model *eng_model_synthetic(const struct phi3_synth_opts *synth, const eng_model_opts *opts, char *err,
                                 size_t errlen);
void eng_model_close(eng_model *m);
const phi3_config *eng_model_config(const eng_model *m);
/* The tokenizer, or NULL when the checkpoint has none and none was given. */
const tok_tokenizer *eng_model_tokenizer(const eng_model *m);
vkr_ctx *eng_model_vk(eng_model *m);
/* Bytes of fp16 weights on the device. */
uint64_t eng_model_weight_bytes(const eng_model *m);
/* Number of parameters (elements of all weights, without padding). */
uint64_t eng_model_params(const eng_model *m);

typedef struct eng_ctx_opts {
    int n_ctx;        /* KV cache length in tokens; 0: the model's context capped at 4096 */
    int n_batch;      /* most tokens per prefill pass (longer inputs are split); 0: 512 */
    int all_logits;   /* 1: eng_ctx_eval keeps the logits of every position, not only the last */
    int n_seq;        /* independent sequences (batching); each has its own n_ctx cache; 0: 1 */
} eng_ctx_opts;

/* Allocates the KV cache and scratch and records the decode step. */
eng_ctx *eng_ctx_create(eng_model *m, const eng_ctx_opts *opts, char *err, size_t errlen);
void eng_ctx_destroy(eng_ctx *c);

/* Appends tokens[0..n) to the sequence (prefill in passes of n_batch) and
 * computes logits. Fails when the cache would overflow ("context full: N + n >
 * n_ctx") or an id is outside the vocabulary. */
int eng_ctx_eval(eng_ctx *c, const int32_t *tokens, int n, char *err, size_t errlen);
/* Logits of the last eval: [rows, vocab] fp32, rows = n (all_logits) or 1.
 * Valid until the next eval/decode. */
const float *eng_ctx_logits(const eng_ctx *c, int *rows);
/* Appends one token with the pre-recorded decode step and returns the
 * argmax of the next-token logits, computed on the device (4 bytes read
 * back). eng_ctx_logits is not updated. */
int eng_ctx_decode_greedy(eng_ctx *c, int32_t token, int32_t *next, char *err, size_t errlen);
/* Tokens currently in the KV cache. */
int eng_ctx_n_past(const eng_ctx *c);
int eng_ctx_n_ctx(const eng_ctx *c);
/* Forgets every token after the first n (n <= n_past): the KV entries of the
 * first n stay valid, so a shared prompt prefix is computed once. */
int eng_ctx_truncate(eng_ctx *c, int n);

/* ---- several sequences (eng_ctx_opts.n_seq > 1) -------------------------
 * The functions above act on sequence 0. Sequences share the weights and
 * the passes: eng_ctx_eval_batch runs the tokens of several sequences
 * through every matrix multiply together, each attending only to its own
 * cache. */
typedef struct eng_seq_tokens {
    int seq;                 /* 0 .. n_seq-1, each at most once per batch */
    const int32_t *tokens;   /* appended to that sequence */
    int n;
} eng_seq_tokens;
int eng_ctx_n_seq(const eng_ctx *c);
/* eng_ctx_eval for sequence seq (logits: eng_ctx_logits_seq). */
int eng_ctx_eval_seq(eng_ctx *c, int seq, const int32_t *tokens, int n, char *err, size_t errlen);
/* Appends each item's tokens to its sequence, packing items into passes of
 * at most n_batch tokens; afterwards eng_ctx_logits_seq(c, item.seq) holds
 * the logits after each item's last token. */
int eng_ctx_eval_batch(eng_ctx *c, const eng_seq_tokens *items, int n_items, char *err, size_t errlen);
/* Last logits [vocab] of sequence seq (NULL for a bad seq). */
const float *eng_ctx_logits_seq(const eng_ctx *c, int seq);
int eng_ctx_n_past_seq(const eng_ctx *c, int seq);
/* The ids in sequence seq's cache [n_past_seq] (for prefix matching). */
const int32_t *eng_ctx_tokens_seq(const eng_ctx *c, int seq);
int eng_ctx_truncate_seq(eng_ctx *c, int seq, int n);
/* Makes dst hold the first n cached tokens of src (a device copy of their
 * K/V rows): a shared prompt prefix is computed once for all sequences. */
int eng_ctx_copy_seq(eng_ctx *c, int src, int dst, int n, char *err, size_t errlen);
/* Bytes of device memory of this context (KV cache + scratch). */
uint64_t eng_ctx_device_bytes(const eng_ctx *c);

/* GPU time per op of the last eval or decode (model opened with profile).
 * Entries are summed over layers by op label; returns the count or -1. */
typedef struct eng_op_profile {
    const char *op;   /* "matmul", "attention", ... */
    int calls;
    double ms;
    double bytes, flops; /* weight bytes read and FLOPs of the matrix ops (0 for the others) */
} eng_op_profile;
int eng_ctx_profile(eng_ctx *c, eng_op_profile *out, int cap);

#endif
