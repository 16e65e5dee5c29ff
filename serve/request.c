/* Request bodies of the server parsed and checked; see request.h. */
#include "serve/request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/dataset.h"
#include "serve/call.h"
#include "judge/idset.h"
#include "util/utf8.h"

#define MAX_ID 256
#define MAX_PROMPT_TEMPLATE (64u << 10)
#define BAD "invalid_request_error"

int srv_fail(srv_error *e, int status, const char *type, const char *param, const char *code, const char *fmt, ...) {
    va_list ap;
    e->status = status;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

char *srv_error_json(const srv_error *e) {
    cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "error");
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "message", e->message) && cJSON_AddStringToObject(o, "type", e->type) &&
        (e->param[0] ? cJSON_AddStringToObject(o, "param", e->param) : cJSON_AddNullToObject(o, "param")) &&
        (e->code[0] ? cJSON_AddStringToObject(o, "code", e->code) : cJSON_AddNullToObject(o, "code")))
        s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* The body as a JSON object, or NULL with e. */
static cJSON *parse_body(const char *body, size_t len, srv_error *e) {
    if (!util_utf8_valid(body, len)) {
        srv_fail(e, 400, BAD, NULL, NULL, "the request body is not valid UTF-8");
        return NULL;
    }
    long nul = judge_json_nul_escape(body, len);
    if (nul >= 0) {
        srv_fail(e, 400, BAD, NULL, NULL, "\\u0000 (a NUL character) at byte %ld: strings cannot hold NUL", nul + 1);
        return NULL;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!o) {
        srv_fail(e, 400, BAD, NULL, NULL, "the request body is not valid JSON (near byte %ld)",
                 end ? (long)(end - body) + 1 : 1L);
        return NULL;
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        srv_fail(e, 400, BAD, NULL, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return o;
}

static const cJSON *field(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* An optional boolean field; 0 when absent. */
static int get_bool(const cJSON *o, const char *name, int *out, srv_error *e) {
    const cJSON *v = field(o, name);
    *out = 0;
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return srv_fail(e, 400, BAD, name, NULL, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* An optional integer field in [lo, hi]; *given = 0 when absent. */
static int get_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out, int *given,
                   srv_error *e) {
    const cJSON *v = field(o, name);
    *given = v != NULL;
    if (!v) return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d == floor(d)) || d < (double)lo || d > (double)hi)
        return srv_fail(e, 400, BAD, name, NULL, "'%s' must be an integer from %lld to %lld", name, lo, hi);
    *out = (long long)d;
    return 0;
}

/* An optional number field in [lo, hi] (lo excluded when open_lo). */
static int get_num(const cJSON *o, const char *name, double lo, double hi, int open_lo, double *out, srv_error *e) {
    const cJSON *v = field(o, name);
    if (!v) return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || (open_lo && d == lo))
        return srv_fail(e, 400, BAD, name, NULL, "'%s' must be a number %s %g and <= %g", name, open_lo ? ">" : ">=",
                        lo, hi);
    *out = d;
    return 0;
}

/* ---- classify ----------------------------------------------------------- */

void srv_classify_req_free(srv_classify_req *r) {
    for (int i = 0; r->ids && i < r->n; i++) free(r->ids[i]);
    for (int i = 0; r->texts && i < r->n; i++) free(r->texts[i]);
    free(r->ids);
    free(r->texts);
    free(r->lens);
    free(r->prompt);
    memset(r, 0, sizeof *r);
}

/* Item i's id from v (a string or an integer), checked. */
static int item_id(const cJSON *v, int i, srv_classify_req *r, srv_error *e) {
    char num[32];
    const char *s = NULL;
    if (cJSON_IsString(v)) s = v->valuestring;
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15) {
        snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        s = num;
    }
    if (!s || !*s || strlen(s) > MAX_ID)
        return srv_fail(e, 400, BAD, "items", NULL, "items[%d].id must be a non-empty string (at most %d bytes) or an "
                        "integer", i, MAX_ID);
    if (!(r->ids[i] = strdup(s))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    return 0;
}

/* The texts of "texts" or "items" into r. */
static int classify_items(const cJSON *o, const srv_limits *lim, srv_classify_req *r, srv_error *e) {
    const cJSON *texts = field(o, "texts"), *items = field(o, "items"), *arr = texts ? texts : items;
    const char *name = texts ? "texts" : "items";
    if (!texts == !items)
        return srv_fail(e, 400, BAD, texts ? "items" : "texts", NULL,
                        "give either \"texts\": [\"...\", ...] or \"items\": [{\"id\": ..., \"text\": \"...\"}, ...]%s",
                        texts ? ", not both" : "");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return srv_fail(e, 400, BAD, name, NULL, "'%s' must be a non-empty array", name);
    int n = cJSON_GetArraySize(arr);
    if (n > lim->max_texts)
        return srv_fail(e, 413, BAD, name, NULL, "%d items in one request; at most %d (split the request)", n,
                        lim->max_texts);
    r->ids = calloc((size_t)n, sizeof *r->ids);
    r->texts = calloc((size_t)n, sizeof *r->texts);
    r->lens = calloc((size_t)n, sizeof *r->lens);
    if (!r->ids || !r->texts || !r->lens) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    r->n = n;
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        const cJSON *t = v;
        char num[32];
        if (items) {
            if (!cJSON_IsObject(v)) return srv_fail(e, 400, BAD, "items", NULL, "items[%d] must be an object", i);
            t = field(v, "text");
            const cJSON *id = field(v, "id");
            if (id && item_id(id, i, r, e)) return -1;
            if (!id && (snprintf(num, sizeof num, "%d", i + 1), !(r->ids[i] = strdup(num))))
                return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        } else {
            snprintf(num, sizeof num, "%d", i + 1);
            if (!(r->ids[i] = strdup(num))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        }
        if (!cJSON_IsString(t))
            return srv_fail(e, 400, BAD, name, NULL, "%s[%d]%s must be a string", name, i, items ? ".text" : "");
        size_t len = strlen(t->valuestring);
        if (len > lim->max_text)
            return srv_fail(e, 413, BAD, name, NULL, "%s[%d] has %zu bytes; at most %zu", name, i, len, lim->max_text);
        if (!(r->texts[i] = dup_n(t->valuestring, len)))
            return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        r->lens[i] = len;
    }
    judge_idset *set = judge_idset_create();
    int rc = set ? 0 : srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (int k = 0; !rc && k < n; k++) {
        int first;
        int added = judge_idset_add(set, r->ids[k], k, &first);
        if (added < 0) rc = srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        else if (added == 0)
            rc = srv_fail(e, 400, BAD, "items", NULL, "items[%d] repeats the id '%.64s' of items[%d] (results are "
                          "matched by id)", k, r->ids[k], first);
    }
    judge_idset_destroy(set);
    return rc;
}

int srv_parse_classify(const char *body, size_t len, const srv_limits *lim, srv_classify_req *out, srv_error *e) {
    memset(out, 0, sizeof *out);
    cJSON *o = parse_body(body, len, e);
    if (!o) return -1;
    long long mt = 0;
    int given, rc = classify_items(o, lim, out, e);
    if (!rc) rc = get_bool(o, "reason", &out->reason, e);
    if (!rc) rc = get_int(o, "max_tokens", 1, lim->max_tokens, &mt, &given, e);
    out->max_tokens = (int)mt;
    const cJSON *p = field(o, "prompt");
    if (!rc && p && (!cJSON_IsString(p) || !*p->valuestring || strlen(p->valuestring) > MAX_PROMPT_TEMPLATE))
        rc = srv_fail(e, 400, BAD, "prompt", NULL, "'prompt' must be a prompt's name (judge-card, judge-noreason, "
                      "judge-reason, phoenix) or a template with {text}, at most %u bytes", MAX_PROMPT_TEMPLATE);
    if (!rc && p && !(out->prompt = strdup(p->valuestring)))
        rc = srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    cJSON_Delete(o);
    if (rc) srv_classify_req_free(out);
    return rc;
}

/* ---- chat and completions ------------------------------------------------ */

void srv_gen_req_free(srv_gen_req *r) {
    for (int i = 0; r->msgs && i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
    }
    free(r->msgs);
    free(r->prompt);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    if (r->call) srv_call_free(r->call);
    free(r->call);
    memset(r, 0, sizeof *r);
}

/* A message's content: a string, null, or an array of {"type":"text","text":...} parts. */
static char *content_text(const cJSON *c, int i, const srv_limits *lim, srv_error *e) {
    if (!c) return strdup("");
    if (cJSON_IsString(c)) {
        if (strlen(c->valuestring) > lim->max_text) {
            srv_fail(e, 413, BAD, "messages", NULL, "messages[%d].content has more than %zu bytes", i, lim->max_text);
            return NULL;
        }
        return strdup(c->valuestring);
    }
    if (!cJSON_IsArray(c)) {
        srv_fail(e, 400, BAD, "messages", NULL, "messages[%d].content must be a string or an array of text parts", i);
        return NULL;
    }
    size_t n = 0;
    for (const cJSON *p = c->child; p; p = p->next) {
        const cJSON *type = field(p, "type"), *text = field(p, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
            srv_fail(e, 400, BAD, "messages", NULL, "messages[%d].content: only {\"type\": \"text\", \"text\": ...} "
                     "parts are supported", i);
            return NULL;
        }
        n += strlen(text->valuestring);
        if (n > lim->max_text) {
            srv_fail(e, 413, BAD, "messages", NULL, "messages[%d].content has more than %zu bytes", i, lim->max_text);
            return NULL;
        }
    }
    char *s = malloc(n + 1);
    if (!s) return NULL;
    size_t at = 0;
    for (const cJSON *p = c->child; p; p = p->next) {
        size_t k = strlen(field(p, "text")->valuestring);
        memcpy(s + at, field(p, "text")->valuestring, k);
        at += k;
    }
    s[at] = 0;
    return s;
}

static int chat_messages(const cJSON *o, const srv_limits *lim, srv_gen_req *r, srv_error *e) {
    const cJSON *m = field(o, "messages");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
        return srv_fail(e, 400, BAD, "messages", NULL, "'messages' must be a non-empty array");
    int n = cJSON_GetArraySize(m);
    if (n > lim->max_messages)
        return srv_fail(e, 413, BAD, "messages", NULL, "%d messages; at most %d", n, lim->max_messages);
    if (!(r->msgs = calloc((size_t)n, sizeof *r->msgs)))
        return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    int i = 0;
    for (const cJSON *v = m->child; v; v = v->next, i++) {
        r->n_msgs = i + 1; /* counted before its strings: an error below frees what is there */
        const cJSON *role = field(v, "role");
        const char *rs = cJSON_IsString(role) ? role->valuestring : "";
        if (!strcmp(rs, "developer")) rs = "system"; /* OpenAI's newer name for it */
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant"))
            return srv_fail(e, 400, BAD, "messages", NULL, "messages[%d].role must be system, user or assistant "
                            "(Phi-3's chat template has no other)", i);
        if (!(r->msgs[i].role = strdup(rs))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        if (!(r->msgs[i].content = content_text(field(v, "content"), i, lim, e)))
            return e->status ? -1 : srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    return 0;
}

static int stop_strings(const cJSON *o, srv_gen_req *r, srv_error *e) {
    const cJSON *s = field(o, "stop");
    if (!s) return 0;
    if (cJSON_IsArray(s) && cJSON_GetArraySize(s) > SRV_MAX_STOP)
        return srv_fail(e, 400, BAD, "stop", NULL, "at most %d stop sequences", SRV_MAX_STOP);
    for (const cJSON *v = cJSON_IsArray(s) ? s->child : s; v; v = cJSON_IsArray(s) ? v->next : NULL) {
        if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > SRV_MAX_STOP_BYTES)
            return srv_fail(e, 400, BAD, "stop", NULL, "'stop' must be a string or an array of up to %d non-empty "
                            "strings of at most %d bytes", SRV_MAX_STOP, SRV_MAX_STOP_BYTES);
        if (!(r->stop[r->n_stop++] = strdup(v->valuestring)))
            return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    return 0;
}

/* Fields phi3vk does not implement: an error, not a silent difference. */
static int unsupported(const cJSON *o, int chat, srv_error *e) {
    static const char *const never[] = {"suffix"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (field(o, never[i])) return srv_fail(e, 400, BAD, never[i], NULL, "'%s' is not supported", never[i]);
    const char *zero[] = {"presence_penalty", "frequency_penalty"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = field(o, zero[i]);
        if (v && !(cJSON_IsNumber(v) && v->valuedouble == 0))
            return srv_fail(e, 400, BAD, zero[i], NULL, "'%s' is not supported (only 0)", zero[i]);
    }
    const cJSON *lb = field(o, "logit_bias"), *rf = field(o, "response_format"), *echo = field(o, "echo");
    if (lb && !(cJSON_IsObject(lb) && !lb->child))
        return srv_fail(e, 400, BAD, "logit_bias", NULL, "'logit_bias' is not supported");
    if (rf && !(cJSON_IsObject(rf) && cJSON_IsString(field(rf, "type")) && !strcmp(field(rf, "type")->valuestring, "text")))
        return srv_fail(e, 400, BAD, "response_format", NULL, "only response_format {\"type\": \"text\"} is supported");
    if (!chat && echo && !cJSON_IsFalse(echo)) return srv_fail(e, 400, BAD, "echo", NULL, "'echo' is not supported");
    long long n = 1, best = 1;
    int given;
    if (get_int(o, "n", 1, 1, &n, &given, e)) return srv_fail(e, 400, BAD, "n", NULL, "only n = 1 is supported");
    if (!chat && get_int(o, "best_of", 1, 1, &best, &given, e))
        return srv_fail(e, 400, BAD, "best_of", NULL, "only best_of = 1 is supported");
    return 0;
}

static int sampling(const cJSON *o, int chat, const srv_limits *lim, srv_gen_req *r, srv_error *e) {
    long long x;
    int given;
    r->temperature = 1.0;
    r->top_p = 1.0;
    r->max_tokens = -1;
    if (get_num(o, "temperature", 0, 2, 0, &r->temperature, e) || get_num(o, "top_p", 0, 1, 1, &r->top_p, e))
        return -1;
    const char *mt = chat && field(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (get_int(o, mt, 1, lim->max_tokens, &x, &given, e)) return -1;
    if (given) r->max_tokens = (int)x;
    if (get_int(o, "seed", INT64_MIN / 2, INT64_MAX / 2, &x, &given, e)) return -1;
    r->has_seed = given;
    r->seed = (uint64_t)x;
    if (chat) {
        if (get_bool(o, "logprobs", &r->logprobs, e)) return -1;
        if (get_int(o, "top_logprobs", 0, SRV_MAX_TOP_LOGPROBS, &x, &given, e)) return -1;
        if (given && !r->logprobs) return srv_fail(e, 400, BAD, "top_logprobs", NULL, "'top_logprobs' needs \"logprobs\": true");
        r->top_logprobs = given ? (int)x : 0;
    } else {
        if (get_int(o, "logprobs", 0, SRV_MAX_TOP_LOGPROBS, &x, &given, e)) return -1;
        r->logprobs = given;
        r->top_logprobs = given ? (int)x : 0;
    }
    if (get_bool(o, "stream", &r->stream, e)) return -1;
    const cJSON *so = field(o, "stream_options");
    if (so && (!cJSON_IsObject(so) || get_bool(so, "include_usage", &r->include_usage, e)))
        return srv_fail(e, 400, BAD, "stream_options", NULL, "'stream_options' must be {\"include_usage\": bool}");
    return 0;
}

/* functions / tools (serve/call.h): a forced call is kept in r->call. */
static int call_fields(const cJSON *o, int chat, srv_gen_req *r, srv_error *e) {
    srv_call c;
    if (srv_call_parse(o, chat, &c, e)) {
        srv_call_free(&c);
        return -1;
    }
    if (!c.forced) return 0;
    if (r->stream) {
        srv_call_free(&c);
        return srv_fail(e, 400, BAD, "stream", NULL, "a forced %s call cannot be streamed: phi3vk calls it once the reply "
                        "is complete (ask without \"stream\")", c.tools ? "tool" : "function");
    }
    if (!(r->call = malloc(sizeof *r->call))) {
        srv_call_free(&c);
        return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    *r->call = c;
    return 0;
}

int srv_parse_generate(const char *body, size_t len, int chat, const srv_limits *lim, srv_gen_req *out,
                       srv_error *e) {
    memset(out, 0, sizeof *out);
    out->chat = chat;
    cJSON *o = parse_body(body, len, e);
    if (!o) return -1;
    int rc = unsupported(o, chat, e);
    if (!rc) rc = sampling(o, chat, lim, out, e);
    if (!rc) rc = call_fields(o, chat, out, e);
    if (!rc) rc = stop_strings(o, out, e);
    if (!rc && chat) rc = chat_messages(o, lim, out, e);
    if (!rc && !chat) {
        const cJSON *p = field(o, "prompt");
        if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1) p = p->child;
        if (!cJSON_IsString(p)) rc = srv_fail(e, 400, BAD, "prompt", NULL, "'prompt' must be a string (or an array of one)");
        else if (strlen(p->valuestring) > lim->max_text)
            rc = srv_fail(e, 413, BAD, "prompt", NULL, "'prompt' has more than %zu bytes", lim->max_text);
        else if (!(out->prompt = strdup(p->valuestring))) rc = srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    cJSON_Delete(o);
    if (rc) srv_gen_req_free(out);
    return rc;
}
