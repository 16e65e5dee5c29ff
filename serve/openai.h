/* serve responses: the JSON bodies the server answers, in OpenAI's schema
 * for chat completions, completions (whole and as server-sent-event
 * chunks), the model list, and phi3vk's own /v1/classify.
 *
 * Log-probabilities: chat responses carry
 *   "logprobs": {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}
 * and completions the legacy {"tokens", "token_logprobs", "top_logprobs",
 * "text_offset"}; "token" is the token's text with its leading space (a
 * piece that is part of a UTF-8 character shows U+FFFD; "bytes" has its
 * raw bytes). Values are natural logs of the model's own distribution
 * (before temperature and top_p). */
#ifndef PHI3VK_SERVE_OPENAI_H
#define PHI3VK_SERVE_OPENAI_H

#include <stddef.h>

#include "serve/job.h"
#include "tokenizer/tok.h"

typedef struct srv_resp_info {
    const char *id;            /* "chatcmpl-..." / "cmpl-..." */
    const char *model;         /* the served model's name */
    long long created;         /* Unix seconds */
    int chat;                  /* chat.completion(.chunk) rather than text_completion */
    const tok_tokenizer *tok;  /* for the tokens' texts */
    const struct srv_call *call; /* chat: the forced function call to answer (serve/call.h), or NULL */
} srv_resp_info;

/* What one streamed chunk carries (a snapshot taken under the group lock). */
typedef struct srv_chunk {
    const char *text;          /* new text (len bytes) */
    size_t len;
    size_t text_offset;        /* where it starts in the whole text (completions' text_offset) */
    const srv_tokinfo *toks;   /* the tokens whose text ends in it (with logprobs) */
    int n_toks;
    int role;                  /* chat: the first chunk, with "role": "assistant" */
    const char *finish;        /* the last chunk's finish_reason, else NULL */
} srv_chunk;

/* A whole chat completion or completion of the finished job j. */
char *srv_generate_response(const srv_resp_info *ri, const srv_job *j);

/* One chunk's JSON (without "data: "). */
char *srv_chunk_json(const srv_resp_info *ri, const srv_job *j, const srv_chunk *c);

/* The final usage chunk of a stream with include_usage. */
char *srv_usage_chunk_json(const srv_resp_info *ri, const srv_job *j);

/* {"object": "list", "data": [{"id": model, "object": "model", ...}]}. */
char *srv_models_json(const char *model, long long created);

/* {"model": ..., "results": [one classify --jsonl record per item, in
 * request order], "usage": {"prompt_tokens", "completion_tokens",
 * "total_tokens"}} for the finished group g. */
char *srv_classify_json(const char *model, const srv_group *g);

#endif
