/* Response bodies in OpenAI's schema and /v1/classify's; see openai.h. */
#include "serve/openai.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/results.h"
#include "serve/call.h"
#include "util/utf8.h"

static char *print(cJSON *root) {
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* The text of token id for logprobs (leading space kept), and its bytes. */
static cJSON *token_string(const tok_tokenizer *t, int32_t id, cJSON **bytes) {
    char *raw = NULL, err[128];
    size_t len = 0;
    if (id < 0 || id >= tok_n_vocab(t) ||
        tok_decode(t, &id, 1, TOK_DECODE_KEEP_LEADING_SPACE | TOK_DECODE_RAW_BYTES, &raw, &len, err, sizeof err)) {
        if (bytes) *bytes = cJSON_CreateArray();
        return cJSON_CreateString("");
    }
    if (bytes) {
        *bytes = cJSON_CreateArray();
        for (size_t i = 0; *bytes && i < len; i++) cJSON_AddItemToArray(*bytes, cJSON_CreateNumber((unsigned char)raw[i]));
    }
    cJSON *s;
    if (util_utf8_valid(raw, len)) s = cJSON_CreateString(raw);
    else s = cJSON_CreateString("\xEF\xBF\xBD"); /* part of a character */
    free(raw);
    return s;
}

/* chat: {"content": [{token, logprob, bytes, top_logprobs}]} */
static cJSON *chat_logprobs(const tok_tokenizer *t, const srv_tokinfo *toks, int n) {
    cJSON *o = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(o, "content");
    for (int i = 0; content && i < n; i++) {
        cJSON *e = cJSON_CreateObject(), *bytes = NULL;
        cJSON_AddItemToObject(e, "token", token_string(t, toks[i].id, &bytes));
        cJSON_AddNumberToObject(e, "logprob", toks[i].logprob);
        cJSON_AddItemToObject(e, "bytes", bytes);
        cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int k = 0; top && k < toks[i].n_top; k++) {
            cJSON *a = cJSON_CreateObject(), *ab = NULL;
            cJSON_AddItemToObject(a, "token", token_string(t, toks[i].top[k].id, &ab));
            cJSON_AddNumberToObject(a, "logprob", toks[i].top[k].logprob);
            cJSON_AddItemToObject(a, "bytes", ab);
            cJSON_AddItemToArray(top, a);
        }
        cJSON_AddItemToArray(content, e);
    }
    return o;
}

/* completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"} */
static cJSON *completion_logprobs(const tok_tokenizer *t, const srv_tokinfo *toks, int n, size_t offset) {
    cJSON *o = cJSON_CreateObject();
    cJSON *tk = cJSON_AddArrayToObject(o, "tokens"), *lp = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(o, "top_logprobs"), *off = cJSON_AddArrayToObject(o, "text_offset");
    for (int i = 0; off && i < n; i++) {
        cJSON_AddItemToArray(tk, token_string(t, toks[i].id, NULL));
        cJSON_AddItemToArray(lp, cJSON_CreateNumber(toks[i].logprob));
        cJSON *alt = cJSON_CreateObject();
        for (int k = 0; k < toks[i].n_top; k++) {
            cJSON *s = token_string(t, toks[i].top[k].id, NULL);
            if (s && !cJSON_GetObjectItemCaseSensitive(alt, s->valuestring))
                cJSON_AddNumberToObject(alt, s->valuestring, toks[i].top[k].logprob);
            cJSON_Delete(s);
        }
        cJSON_AddItemToArray(top, alt);
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(i ? toks[i - 1].end : offset)));
    }
    return o;
}

static cJSON *usage(const srv_job *j) {
    cJSON *u = cJSON_CreateObject();
    int completion = j->n_generated;
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)j->prompt.n);
    cJSON_AddNumberToObject(u, "completion_tokens", completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)j->prompt.n + completion);
    return u;
}

static cJSON *envelope(const srv_resp_info *ri, const char *object) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ri->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)ri->created);
    cJSON_AddStringToObject(o, "model", ri->model);
    cJSON_AddStringToObject(o, "system_fingerprint", "phi3vk-" PHI3VK_VERSION);
    return o;
}

char *srv_generate_response(const srv_resp_info *ri, const srv_job *j) {
    cJSON *o = envelope(ri, ri->chat ? "chat.completion" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    const char *finish = j->finish ? j->finish : "stop";
    char *args = ri->chat && ri->call ? srv_call_arguments(ri->call, j->text ? j->text : "", j->text ? j->text_len : 0) : NULL;
    if (args) { /* the forced call, its arguments from the reply's text (serve/call.h) */
        cJSON *m = cJSON_AddObjectToObject(c, "message"), *fn = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddNullToObject(m, "content");
        cJSON_AddStringToObject(fn, "name", ri->call->name);
        cJSON_AddStringToObject(fn, "arguments", args);
        if (ri->call->tools) {
            cJSON *calls = cJSON_AddArrayToObject(m, "tool_calls"), *tc = cJSON_CreateObject();
            char id[96];
            snprintf(id, sizeof id, "call_%s", ri->id);
            cJSON_AddStringToObject(tc, "id", id);
            cJSON_AddStringToObject(tc, "type", "function");
            cJSON_AddItemToObject(tc, "function", fn);
            cJSON_AddItemToArray(calls, tc);
            finish = "tool_calls";
        } else {
            cJSON_AddItemToObject(m, "function_call", fn);
            finish = "function_call";
        }
        free(args);
    } else if (ri->chat) {
        cJSON *m = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", j->text ? j->text : "");
    } else {
        cJSON_AddStringToObject(c, "text", j->text ? j->text : "");
    }
    if (!j->logprobs) cJSON_AddNullToObject(c, "logprobs");
    else cJSON_AddItemToObject(c, "logprobs", ri->chat ? chat_logprobs(ri->tok, j->toks, j->n_toks)
                                                        : completion_logprobs(ri->tok, j->toks, j->n_toks, 0));
    cJSON_AddStringToObject(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    cJSON_AddItemToObject(o, "usage", usage(j));
    return print(o);
}

char *srv_chunk_json(const srv_resp_info *ri, const srv_job *j, const srv_chunk *ch) {
    cJSON *o = envelope(ri, ri->chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    char *text = malloc(ch->len + 1);
    if (text) {
        memcpy(text, ch->text, ch->len);
        text[ch->len] = 0;
    }
    if (ri->chat) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (ch->role) cJSON_AddStringToObject(d, "role", "assistant");
        if (ch->len || ch->role) cJSON_AddStringToObject(d, "content", text ? text : "");
    } else {
        cJSON_AddStringToObject(c, "text", text ? text : "");
    }
    free(text);
    if (!j->logprobs || !ch->n_toks) cJSON_AddNullToObject(c, "logprobs");
    else cJSON_AddItemToObject(c, "logprobs", ri->chat ? chat_logprobs(ri->tok, ch->toks, ch->n_toks)
                                                        : completion_logprobs(ri->tok, ch->toks, ch->n_toks, ch->text_offset));
    if (ch->finish) cJSON_AddStringToObject(c, "finish_reason", ch->finish);
    else cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    return print(o);
}

char *srv_usage_chunk_json(const srv_resp_info *ri, const srv_job *j) {
    cJSON *o = envelope(ri, ri->chat ? "chat.completion.chunk" : "text_completion");
    cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToObject(o, "usage", usage(j));
    return print(o);
}

char *srv_models_json(const char *model, long long created) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddStringToObject(m, "id", model);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)created);
    cJSON_AddStringToObject(m, "owned_by", "phi3vk");
    cJSON_AddItemToArray(data, m);
    return print(o);
}

char *srv_classify_json(const char *model, const srv_group *g) {
    cJSON *o = cJSON_CreateObject(), *results = NULL;
    cJSON_AddStringToObject(o, "model", model);
    results = cJSON_AddArrayToObject(o, "results");
    long long prompt = 0, completion = 0;
    for (int i = 0; results && i < g->n_jobs; i++) {
        const srv_job *j = &g->jobs[i];
        size_t len;
        char *line = judge_result_line(&j->res, &len); /* the record classify --jsonl prints */
        cJSON *r = line ? cJSON_ParseWithLength(line, len) : NULL;
        free(line);
        if (!r) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(results, r);
        prompt += j->res.prompt_tokens;
        completion += j->n_generated;
    }
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
    return print(o);
}
