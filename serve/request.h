/* serve requests: the JSON bodies of POST /v1/classify, /v1/chat/completions
 * and /v1/completions parsed into plain structs, every field checked
 * against the limits, with errors in OpenAI's shape (an HTTP status, a
 * type, the offending parameter and a message). No model is involved: the
 * server tokenizes what this returns. Everything a request names is data
 * (texts, messages, a prompt template given inline): nothing can name a
 * file or a model path.
 *
 * Bodies must be UTF-8 JSON objects without "\u0000" (a NUL would cut a
 * string). Unknown fields are ignored (clients send "user", "model", ...);
 * fields phi3vk cannot honour are an error rather than ignored: n other
 * than 1, nonzero presence/frequency penalties, echo, and the function
 * calls serve/call.h cannot answer. */
#ifndef PHI3VK_SERVE_REQUEST_H
#define PHI3VK_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_STOP 4
#define SRV_MAX_STOP_BYTES 256
#define SRV_MAX_TOP_LOGPROBS 20

typedef struct srv_limits {
    int max_texts;         /* items of one classify request */
    size_t max_text;       /* bytes of one text or message */
    int max_messages;      /* messages of one chat request */
    int max_tokens;        /* the largest max_tokens a request may ask for */
} srv_limits;

typedef struct srv_error {
    int status;            /* HTTP status: 400, 401, 404, 405, 413, 429, 500, 503 */
    char type[32];         /* "invalid_request_error", "authentication_error", "server_error", ... */
    char param[48];        /* the field at fault, "" for none */
    char code[40];         /* "context_length_exceeded", "invalid_api_key", ... or "" */
    char message[1024];
} srv_error;

/* Fills e and returns -1 (for `return srv_fail(...)`). */
int srv_fail(srv_error *e, int status, const char *type, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* POST /v1/classify: {"texts": [...]} or {"items": [{"id": ..., "text": ...}]},
 * optional "reason" (bool), "prompt" (a shipped prompt's name, or a
 * template holding "{text}"), "max_tokens" (with reason). */
typedef struct srv_classify_req {
    int n;                 /* items, 1 .. max_texts */
    char **ids;            /* (n) "1", "2", ... for texts; the given ids (strings or integers) */
    char **texts;          /* (n) NUL-terminated; lens[i] bytes (no NUL inside) */
    size_t *lens;
    int reason;
    char *prompt;          /* NULL: the server's default prompt */
    int max_tokens;        /* with reason: most new tokens; 0: the prompt's default */
} srv_classify_req;

typedef struct srv_chat_msg {
    char *role;            /* "system", "user" or "assistant" */
    char *content;         /* the text (parts of an array joined) */
} srv_chat_msg;

/* POST /v1/chat/completions (chat = 1) and /v1/completions (chat = 0). */
typedef struct srv_gen_req {
    int chat;
    srv_chat_msg *msgs;    /* (n_msgs) chat */
    int n_msgs;
    char *prompt;          /* completions: the prompt text */
    int max_tokens;        /* -1: not given (chat: until the context is full; completions: 16) */
    double temperature;    /* 0 .. 2; default 1 (OpenAI's); 0 = greedy */
    double top_p;          /* (0, 1]; default 1 */
    int has_seed;
    uint64_t seed;
    char *stop[SRV_MAX_STOP];
    int n_stop;
    int logprobs;          /* chat: logprobs true; completions: logprobs >= 0 given */
    int top_logprobs;      /* 0 .. SRV_MAX_TOP_LOGPROBS alternatives per token */
    int stream;            /* server-sent events */
    int include_usage;     /* stream_options.include_usage */
    struct srv_call *call; /* chat: a forced function call to answer (serve/call.h; owned), NULL
                              when none is forced */
} srv_gen_req;

/* Parses a classify body. Returns 0, or -1 with e (400 for a bad field,
 * 413 for more than max_texts items or a text over max_text bytes). */
int srv_parse_classify(const char *body, size_t len, const srv_limits *lim, srv_classify_req *out, srv_error *e);
void srv_classify_req_free(srv_classify_req *r);

/* Parses a chat (chat = 1) or completions body. Returns 0, or -1 with e. */
int srv_parse_generate(const char *body, size_t len, int chat, const srv_limits *lim, srv_gen_req *out,
                       srv_error *e);
void srv_gen_req_free(srv_gen_req *r);

/* {"error":{"message":...,"type":...,"param":...,"code":...}}, malloc'ed;
 * NULL when out of memory. */
char *srv_error_json(const srv_error *e);

#endif
