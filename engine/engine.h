/* engine/ (eng_): run a Phi-3 model on a Vulkan device.
 *
 *   eng_model *m = eng_model_open("path/to/folder-or.gguf", &opts, err, sizeof err);
 *   eng_plan p;                                          // how big, how many sequences
 *   eng_plan_make(m, &(eng_plan_request){.n_ctx = 4096}, &p, err, sizeof err);
 *   eng_ctx *c = eng_ctx_create(m, &p, err, sizeof err);
 *   eng_output out;
 *   eng_step(c, &(eng_input){.seq = 0, .tokens = ids, .n = n, .want = ENG_LOGITS}, 1, &out, err, sizeof err);
 *   ... out.logits [vocab], out.argmax (picked on the device) ...
 *   eng_step(c, &(eng_input){.seq = 0, .tokens = &out.argmax, .n = 1}, 1, &out, err, sizeof err);
 *   eng_ctx_destroy(c); eng_model_close(m);
 *
 * A model owns its device weights (fp16, converted while streaming from F32,
 * BF16 or F16 files; Q8_0, Q4_0, Q4_K, Q5_K, Q6_K as a GGUF stores them, or
 * quantized while loading with eng_model_opts.weights), the Vulkan runtime (unless one is passed in) and, when
 * the checkpoint has one, the tokenizer. A context owns n_seq sequences,
 * each with its own fp16 KV cache of n_ctx tokens, the scratch of one pass
 * and a pre-recorded single-token step. Every step appends tokens to any
 * set of sequences (a prompt to one, one generated token to each of
 * others: sequences join and leave between steps) and returns, per
 * sequence, the device's argmax of the next token and, only when asked, its
 * logits or top-k log-probabilities: nothing else is read back.
 * Functions returning int give 0 on success and -1 with a message in err.
 */
#ifndef PHI3VK_ENGINE_ENGINE_H
#define PHI3VK_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/tensors.h"
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
    /* Loading progress: called after each layer's weights are uploaded and
     * once more at the end (done == total), in bytes of device weights;
     * may be NULL. */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void *progress_user;
    phi3_quant weights;      /* how to store the matrices (model/tensors.h: f16, q8_0, q4_0, q4_k,
                                q4_k_m, quantizing float or re-quantizing other types while
                                loading); NONE: as the file stores them, float types as fp16 */
    int load_threads;        /* host threads converting / quantizing the weights while loading
                                (each takes a share of a chunk's rows; the bytes do not depend
                                on the count); 0: one per processor online, at most
                                ENG_LOAD_THREADS_MAX */
} eng_model_opts;

#define ENG_LOAD_THREADS_MAX 16

/* Opens a Hugging Face folder (config.json + safetensors) or a GGUF file and
 * uploads every weight to the device, fp16 or in a block type (opts->weights).
 * Values that overflow fp16 are clamped to +-65504, counted and reported on
 * stderr (name, count, max |x|).
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
/* Bytes of weights on the device. */
uint64_t eng_model_weight_bytes(const eng_model *m);
/* Number of parameters (elements of all weights, without padding). */
uint64_t eng_model_params(const eng_model *m);
/* Threads that converted the weights while loading. */
int eng_model_load_threads(const eng_model *m);
/* What converting float weights to fp16 found: values clamped to +-65504,
 * NaNs, the first tensor with either (also printed on stderr). */
struct phi3_convert_stats;
const struct phi3_convert_stats *eng_model_load_stats(const eng_model *m);
/* eng_model_weight_bytes / eng_model_params: 2.0 for fp16, ~0.57 for Q4_K. */
double eng_model_bytes_per_weight(const eng_model *m);
/* Bytes the weights of a cfg-shaped model take on the device when its
 * matrices are stored as q (NONE: fp16), embedding and lm_head included
 * (tied: one matrix), each in its device layout: what eng_model_synthetic
 * with .weights = q allocates (eng_model_weight_bytes), computed without a
 * device. For memory plans: will a model fit? */
uint64_t eng_weights_device_bytes(const phi3_config *cfg, int tied, phi3_quant q);
/* The matrices' types: "F16", "Q8_0", or by share of values, "Q4_K 86%,
 * Q6_K 7%, Q5_K 7%" (a static string of the model). */
const char *eng_model_weight_types(const eng_model *m);

/* ---- planning ----------------------------------------------------------
 * How large a context to make and how many sequences it holds: the KV cache
 * sizing and the batch policy of every command, decided in one place from
 * the model, the device profile and the memory left. */
typedef struct eng_plan_request {
    int n_ctx;        /* tokens each sequence must hold; 0: the model's context, at most 4096 */
    int n_seq;        /* sequences; 0: as many as suit the device (below), at most max_seq */
    int max_seq;      /* with n_seq 0: the most worth having (the items left, say); 0: 16 */
    int decoding;     /* the sequences mostly generate tokens (decode) rather than read prompts */
    int n_batch;      /* most tokens in one pass (longer inputs are split); 0: 512 */
    int all_logits;   /* steps will ask for every position's logits (ENG_ALL_LOGITS) */
} eng_plan_request;

typedef struct eng_plan {
    int n_ctx, n_seq, n_batch, all_logits; /* what eng_ctx_create makes */
    uint64_t kv_bytes;      /* the KV cache of all sequences (fp16 K and V, every layer) */
    uint64_t free_bytes;    /* memory the plan was sized against: the largest device-local
                               heap less what phi3vk holds; the host's available memory on
                               CPU devices (lavapipe reports a nominal 2 GiB heap) */
} eng_plan;

/* Fills *out for r. With n_seq 0: one sequence for prompt work on CPU
 * devices (compute-bound: batched prompts measured slower), eight for
 * decoding there (one register-blocked tile of tokens per pass), sixteen
 * on GPUs; never more than max_seq or than half the free memory holds.
 * Fails, naming the limit, when n_ctx exceeds the model's context, a layer's
 * cache exceeds maxStorageBufferRange, or the cache exceeds the free
 * memory. */
int eng_plan_make(const eng_model *m, const eng_plan_request *r, eng_plan *out, char *err, size_t errlen);

/* Allocates the KV caches and scratch of plan p (from eng_plan_make) and
 * records the single-token step. */
eng_ctx *eng_ctx_create(eng_model *m, const eng_plan *p, char *err, size_t errlen);
void eng_ctx_destroy(eng_ctx *c);
int eng_ctx_n_seq(const eng_ctx *c);
int eng_ctx_n_ctx(const eng_ctx *c);
/* Bytes of device memory of this context (KV cache + scratch). */
uint64_t eng_ctx_device_bytes(const eng_ctx *c);

/* ---- steps ------------------------------------------------------------- */

#define ENG_MAX_TOP 20

enum {
    ENG_LOGITS = 1,      /* the next-token logits [vocab] */
    ENG_ALL_LOGITS = 2,  /* the logits after every token of the input [n, vocab] (one input, n <=
                            n_batch, a plan with all_logits) */
};

typedef struct eng_input {
    int seq;                 /* 0 .. n_seq-1, at most once per step */
    const int32_t *tokens;   /* appended to the sequence (may point into its own history) */
    int n;                   /* >= 1 */
    unsigned want;           /* ENG_LOGITS / ENG_ALL_LOGITS besides the argmax; 0: argmax only */
    int top_k;               /* 0 .. ENG_MAX_TOP: the most likely next tokens with log-probabilities */
} eng_input;

typedef struct eng_top {
    int32_t id;
    float logprob;           /* natural log of the softmax probability */
} eng_top;

typedef struct eng_output {
    int32_t argmax;          /* the next token with the largest logit, lowest id on ties (the
                                device's argmax; from the host's logits with ENG_ALL_LOGITS) */
    const float *logits;     /* when asked: [vocab], or [n, vocab] with ENG_ALL_LOGITS; NULL
                                otherwise. Valid until the next step */
    int n_top;               /* entries of top, most likely first */
    eng_top top[ENG_MAX_TOP];
} eng_output;

/* Appends in[i].tokens to sequence in[i].seq for every i, through every
 * layer, and fills out[i] (out holds n_in). The inputs share the passes: up
 * to n_batch tokens per pass, a long input's head in passes of its own. A
 * single one-token input runs the pre-recorded step. Fails before any
 * work, naming the input, for a sequence out of range or listed twice, an
 * id outside the vocabulary, or a full cache ("context full: N + n >
 * n_ctx"). LongRoPE models re-evaluate a sequence once it crosses
 * original_max_position_embeddings (single-sequence contexts only). */
int eng_step(eng_ctx *c, const eng_input *in, int n_in, eng_output *out, char *err, size_t errlen);

/* ---- sequences --------------------------------------------------------- */

/* Tokens in sequence seq's cache (-1 for a bad seq). */
int eng_seq_len(const eng_ctx *c, int seq);
/* Those tokens [eng_seq_len] (for prefix matching; NULL for a bad seq). */
const int32_t *eng_seq_tokens(const eng_ctx *c, int seq);
/* Forgets every token of seq after the first n (n <= its length): the K/V of
 * the first n stay valid, so a shared prompt prefix is computed once.
 * Returns 0, or -1 for a bad seq or n. */
int eng_seq_truncate(eng_ctx *c, int seq, int n);
/* Makes dst hold the first n tokens of src (a device copy of their K/V
 * rows): a prompt prefix shared by several sequences is computed once. */
int eng_seq_copy(eng_ctx *c, int src, int dst, int n, char *err, size_t errlen);

/* GPU time per op of the last step (model opened with profile).
 * Entries are summed over layers by op label; returns the count or -1. */
typedef struct eng_op_profile {
    const char *op;   /* "matmul", "attention", ... */
    int calls;
    double ms;
    double bytes, flops; /* weight bytes read and FLOPs of the matrix ops (0 for the others) */
} eng_op_profile;
int eng_ctx_profile(eng_ctx *c, eng_op_profile *out, int cap);

#endif
