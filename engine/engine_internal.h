/* Private to the engine/ sources: the structs behind
 * eng_model and eng_ctx. */
#ifndef PHI3VK_MODEL_ENGINE_INTERNAL_H
#define PHI3VK_MODEL_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "kernels/kernels.h"
#include "model/source.h"

#define ENG_MAX_TYPES 8

/* Weight tensors (kern_weight_create): the norms fp16, the matrices fp16 or
 * a ggml block type (kernels.h), each knowing its dtype and shape. */
typedef struct eng_dev_layer {
    vkr_buffer *attn_norm;   /* fp16 [hidden] */
    vkr_buffer *qkv;         /* [(heads + 2 kv_heads) head_dim, hidden] */
    vkr_buffer *o;           /* [hidden, heads head_dim] */
    vkr_buffer *ffn_norm;    /* fp16 [hidden] */
    vkr_buffer *gate_up;     /* [2 intermediate, hidden] */
    vkr_buffer *down;        /* [hidden, intermediate] */
} eng_dev_layer;

struct eng_model {
    phi3_config cfg;         /* n_layers reduced when max_layers was given */
    vkr_ctx *vk;
    int own_vk;
    int verbose;
    vkr_buffer *embd;        /* [vocab, hidden] */
    vkr_buffer *out_norm;    /* fp16 [hidden] */
    vkr_buffer *lm_head;     /* [vocab, hidden]; == embd when tied */
    eng_dev_layer *layers;  /* [n_layers] */
    uint64_t weight_bytes, params;
    uint32_t types[ENG_MAX_TYPES];        /* the matrices' dtypes (ggml ids) ... */
    uint64_t type_values[ENG_MAX_TYPES];  /* ... and how many values each holds */
    char type_summary[96];   /* eng_model_weight_types */
    tok_tokenizer *tok;      /* owned; NULL when none */
    void (*progress)(void *user, uint64_t done, uint64_t total); /* eng_model_opts.progress */
    void *progress_user;
    int load_threads;        /* threads that converted the weights (eng_model_opts.load_threads) */
    phi3_convert_stats load_stats; /* what converting float weights to fp16 clamped */
};

/* The ggml type (formats/gguf.h ids) a weight is held in on the device:
 * fp16 norms (rows <= 1); matrices as scheme q says (--weights), or with q
 * NONE as src stores them when a kernel reads that type, float types (and
 * synthetic weights, src NULL) as fp16. n_layers: of the whole checkpoint
 * (Q4_K_M's layer rule); tied: lm_head is the embedding. The engine's upload
 * and the C reference (ref.c) both follow it. */
uint32_t eng_weight_dtype(const phi3_source *src, phi3_quant q, int n_layers, int tied, phi3_weight_kind k, int layer,
                          uint64_t rows, uint64_t cols);

/* Scratch for one pass of up to `cap` tokens. */
typedef struct eng_scratch {
    int cap;
    vkr_buffer *ids;         /* host uint32 [cap] */
    vkr_buffer *x;           /* fp32 [cap, hidden]: residual stream */
    vkr_buffer *xn;          /* fp16 [cap, ld(hidden)]: normed input of qkv / gate_up / lm_head */
    vkr_buffer *qkv;         /* fp32 [cap, qkv_rows] */
    vkr_buffer *q;           /* fp32 [cap, heads head_dim] */
    vkr_buffer *attn;        /* fp16 [cap, ld(heads head_dim)] */
    vkr_buffer *gate_up;     /* fp32 [cap, 2 intermediate] */
    vkr_buffer *ff;          /* fp16 [cap, ld(intermediate)] */
    vkr_buffer *att_scratch; /* attention partials */
    int n_split;             /* attention key splits recorded for this scratch */
} eng_scratch;

/* The tokens of one sequence within a pass: rows [row0, row0 + n) of the
 * scratch buffers, at positions n_past[seq].. of that sequence. */
typedef struct eng_segment {
    int seq, row0, n;
} eng_segment;

struct eng_ctx {
    eng_model *m;
    int n_ctx, n_batch, all_logits;
    int n_seq;               /* sequences; each owns rows [seq n_ctx, (seq + 1) n_ctx) of the caches */
    int *n_past;             /* [n_seq] tokens in each sequence's cache */
    vkr_buffer **k_cache;    /* [n_layers] fp16 [n_seq n_ctx, kv_heads head_dim] */
    vkr_buffer **v_cache;
    vkr_buffer *cos_sin;     /* fp32 [n_ctx, head_dim/2, 2] */
    int rope_long;           /* LongRoPE: the table holds the long factors */
    int32_t *history;        /* [n_seq, n_ctx] ids in the caches (LongRoPE, prefix copies) */
    vkr_buffer *params;      /* host struct step_params [2 n_seq + 1]: each sequence's step, then
                                its last token alone, then the single-token step's (ENG_STEP_SLOT) */
    eng_scratch pre;         /* passes of up to n_batch tokens */
    eng_scratch dec;         /* the single-token step */
    vkr_buffer *last_x;      /* fp32 [n_seq, hidden]: last row of each sequence of a pass */
    vkr_buffer *last_q;      /* fp32 [n_seq, n_heads head_dim]: its query in the last layer */
    vkr_buffer *logits;      /* fp32 [logit_rows, vocab] */
    int logit_rows;          /* capacity of logits: max(n_seq, n_batch if all_logits) */
    vkr_buffer *next_id;     /* host uint32 [n_seq]: device argmax of each segment's last row */
    vkr_cmd *pass_cmd;       /* re-recorded per pass */
    vkr_cmd *step_cmd;       /* the single-token step, recorded once */
    vkr_cmd *last_cmd;       /* for profiles */
    float *all_logits_host;  /* [n_batch, vocab]: ENG_ALL_LOGITS outputs */
    float *seq_logits;       /* [n_seq, vocab]: ENG_LOGITS outputs, by sequence */
    uint64_t device_bytes;
};

/* The step_params entry the single-token step reads (after the 2 n_seq
 * entries of passes): set to the sequence it runs for. */
#define ENG_STEP_SLOT(c) (2 * (c)->n_seq)

/* Records the forward pass of the segments' tokens (rows 0..T-1 of scratch
 * s, T = sum of seg[i].n) into cmd; each segment's positions come from
 * params[seq]. With logits_all (one segment), logits rows 0..T-1 get every
 * position; otherwise logits row i and next_id[i] get the last token of
 * segment i, and the last layer computes the keys and values of every token
 * but attention, o_proj and the MLP of the last tokens only (their other rows
 * reach no output). */
void eng_forward_record(eng_ctx *c, vkr_cmd *cmd, eng_scratch *s, const eng_segment *seg, int n_seg,
                         int logits_all);

/* Counts values of the matrices stored as dtype dt (engine/model.c). */
void eng_type_count(eng_model *m, uint32_t dt, uint64_t values);

/* Fills the cos/sin table for the current LongRoPE factor set. */
int eng_rope_upload(eng_ctx *c, int use_long, char *err, size_t errlen);

#endif
