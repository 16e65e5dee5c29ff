/* Function-call fields of a chat request and the forced call's arguments;
 * see call.h. */
#include "serve/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD "invalid_request_error"

static const cJSON *field(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A function's name: 1..64 of [A-Za-z0-9_-], as OpenAI allows. */
static int good_name(const cJSON *n) {
    if (!cJSON_IsString(n)) return 0;
    size_t len = strlen(n->valuestring);
    if (len == 0 || len > SRV_CALL_MAX_NAME) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n->valuestring[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* The function objects of "functions" ({name, parameters}) or "tools"
 * ({type: "function", function: {name, parameters}}) into fn[], *n. */
static int functions(const cJSON *list, int tools, const cJSON **fn, int *n, srv_error *e) {
    const char *what = tools ? "tools" : "functions";
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 || cJSON_GetArraySize(list) > SRV_CALL_MAX_FUNCS)
        return srv_fail(e, 400, BAD, what, NULL, "'%s' must be an array of 1 to %d %s", what, SRV_CALL_MAX_FUNCS,
                        tools ? "tools" : "functions");
    *n = 0;
    for (const cJSON *v = list->child; v; v = v->next) {
        const cJSON *f = v;
        if (tools) {
            const cJSON *type = field(v, "type");
            if (!cJSON_IsObject(v) || !cJSON_IsString(type) || strcmp(type->valuestring, "function"))
                return srv_fail(e, 400, BAD, what, NULL, "tools[%d]: only tools of type \"function\" are supported", *n);
            f = field(v, "function");
        }
        if (!cJSON_IsObject(f) || !good_name(field(f, "name")))
            return srv_fail(e, 400, BAD, what, NULL, "%s[%d]: expected an object with a \"name\" of 1 to %d letters, "
                            "digits, '_' or '-'", what, *n, SRV_CALL_MAX_NAME);
        const cJSON *par = field(f, "parameters");
        if (par && !cJSON_IsObject(par))
            return srv_fail(e, 400, BAD, what, NULL, "%s[%d].parameters must be a JSON schema object", what, *n);
        fn[(*n)++] = f;
    }
    return 0;
}

/* The function named name among fn[0, n), or NULL. */
static const cJSON *find(const cJSON **fn, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(field(fn[i], "name")->valuestring, name)) return fn[i];
    return NULL;
}

/* The function the choice forces in *out (NULL for "none", "auto" or no
 * choice); 0, or -1 with e. */
static int forced_function(const cJSON *choice, int tools, const cJSON **fn, int n, const cJSON **out, srv_error *e) {
    const char *what = tools ? "tool_choice" : "function_call";
    *out = NULL;
    if (!choice) return 0;
    if (cJSON_IsString(choice)) {
        const char *c = choice->valuestring;
        if (!strcmp(c, "none") || !strcmp(c, "auto")) return 0;
        if (tools && !strcmp(c, "required")) {
            if (n != 1)
                return srv_fail(e, 400, BAD, what, NULL, "tool_choice \"required\" among %d tools: phi3vk cannot choose a "
                                "tool; name one ({\"type\": \"function\", \"function\": {\"name\": ...}})", n);
            *out = fn[0];
            return 0;
        }
        return srv_fail(e, 400, BAD, what, NULL, "'%s' must be \"none\", \"auto\"%s or name a function", what,
                        tools ? ", \"required\"" : "");
    }
    const cJSON *named = cJSON_IsObject(choice) ? (tools ? field(field(choice, "function"), "name") : field(choice, "name")) : NULL;
    if (!cJSON_IsString(named))
        return srv_fail(e, 400, BAD, what, NULL, "'%s' must be \"none\", \"auto\"%s or %s", what, tools ? ", \"required\"" : "",
                        tools ? "{\"type\": \"function\", \"function\": {\"name\": ...}}" : "{\"name\": ...}");
    if (!(*out = find(fn, n, named->valuestring)))
        return srv_fail(e, 400, BAD, what, NULL, "'%s' names \"%.64s\", which is not among the %s", what, named->valuestring,
                        tools ? "tools" : "functions");
    return 0;
}

/* The forced function's parameters into call: string properties, at most
 * one with an enum of strings. */
static int schema(const cJSON *f, srv_call *call, srv_error *e) {
    const char *what = call->tools ? "tools" : "functions";
    snprintf(call->name, sizeof call->name, "%s", field(f, "name")->valuestring);
    const cJSON *par = field(f, "parameters"), *props = par ? field(par, "properties") : NULL;
    call->enum_prop = -1;
    if (!cJSON_IsObject(props) || !props->child || cJSON_GetArraySize(props) > SRV_CALL_MAX_PROPS)
        return srv_fail(e, 400, BAD, what, NULL, "function %s: a forced call needs parameters with 1 to %d properties, "
                        "all strings (phi3vk fills them from the reply's text)", call->name, SRV_CALL_MAX_PROPS);
    for (const cJSON *p = props->child; p; p = p->next) {
        const cJSON *type = field(p, "type"), *en = field(p, "enum");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "string"))
            return srv_fail(e, 400, BAD, what, NULL, "function %s: property \"%.64s\" is not {\"type\": \"string\"}: phi3vk "
                            "answers forced calls of string properties only", call->name, p->string);
        if (!(call->props[call->n_props++] = strdup(p->string))) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        if (!en) continue;
        if (call->enum_prop >= 0)
            return srv_fail(e, 400, BAD, what, NULL, "function %s: more than one property has an enum (\"%.64s\", \"%.64s\"): "
                            "phi3vk answers one", call->name, call->props[call->enum_prop], p->string);
        if (!cJSON_IsArray(en) || cJSON_GetArraySize(en) < 1 || cJSON_GetArraySize(en) > SRV_CALL_MAX_ENUM)
            return srv_fail(e, 400, BAD, what, NULL, "function %s: the enum of \"%.64s\" must hold 1 to %d strings", call->name,
                            p->string, SRV_CALL_MAX_ENUM);
        call->enum_prop = call->n_props - 1;
        for (const cJSON *v = en->child; v; v = v->next) {
            if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 256)
                return srv_fail(e, 400, BAD, what, NULL, "function %s: the enum of \"%.64s\" must hold non-empty strings of "
                                "at most 256 bytes", call->name, p->string);
            if (!(call->enums[call->n_enum++] = strdup(v->valuestring)))
                return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        }
    }
    return 0;
}

int srv_call_parse(const cJSON *o, int chat, srv_call *call, srv_error *e) {
    memset(call, 0, sizeof *call);
    call->enum_prop = -1;
    const cJSON *fl = field(o, "functions"), *fc = field(o, "function_call");
    const cJSON *tl = field(o, "tools"), *tc = field(o, "tool_choice");
    if (!fl && !fc && !tl && !tc) return 0;
    if (!chat) {
        const char *f = fl ? "functions" : fc ? "function_call" : tl ? "tools" : "tool_choice";
        return srv_fail(e, 400, BAD, f, NULL, "'%s' is for /v1/chat/completions, not /v1/completions", f);
    }
    if ((fl || fc) && (tl || tc))
        return srv_fail(e, 400, BAD, tl ? "tools" : "tool_choice", NULL, "give either functions/function_call or "
                        "tools/tool_choice, not both");
    call->tools = tl || tc;
    const cJSON *list = call->tools ? tl : fl, *choice = call->tools ? tc : fc;
    if (!list)
        return srv_fail(e, 400, BAD, call->tools ? "tool_choice" : "function_call", NULL, "'%s' without '%s'",
                        call->tools ? "tool_choice" : "function_call", call->tools ? "tools" : "functions");
    const cJSON *fn[SRV_CALL_MAX_FUNCS], *f;
    int n;
    if (functions(list, call->tools, fn, &n, e) || forced_function(choice, call->tools, fn, n, &f, e)) return -1;
    if (!f) return 0;
    call->forced = 1;
    return schema(f, call, e);
}

void srv_call_free(srv_call *call) {
    for (int i = 0; i < call->n_props; i++) free(call->props[i]);
    for (int i = 0; i < call->n_enum; i++) free(call->enums[i]);
    memset(call, 0, sizeof *call);
    call->enum_prop = -1;
}

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Deletes from s (*n bytes, lowercase) every occurrence of v (m > 0 bytes,
 * compared lowercased); returns whether there was one. */
static int cut_all(char *s, size_t *n, const char *v, size_t m) {
    int found = 0;
    size_t w = 0;
    for (size_t r = 0; r < *n;) {
        size_t k = 0;
        while (k < m && r + k < *n && s[r + k] == ascii_lower(v[k])) k++;
        if (k == m) {
            found = 1;
            r += m;
        } else {
            s[w++] = s[r++];
        }
    }
    *n = w;
    return found;
}

int srv_call_snap(const srv_call *call, const char *text, size_t len) {
    if (call->n_enum == 0) return -1;
    char *s = malloc(len + 1);
    int order[SRV_CALL_MAX_ENUM], found = -1, n_found = 0;
    if (!s) return -1;
    for (size_t i = 0; i < len; i++) s[i] = ascii_lower(text[i]);
    for (int i = 0; i < call->n_enum; i++) order[i] = i;
    for (int a = 1; a < call->n_enum; a++) /* longest first; ties keep the schema's order */
        for (int b = a; b > 0 && strlen(call->enums[order[b]]) > strlen(call->enums[order[b - 1]]); b--) {
            int t = order[b];
            order[b] = order[b - 1], order[b - 1] = t;
        }
    /* a value equal to an earlier one but for case finds nothing left: one rail, as in Phoenix's set */
    for (int k = 0; k < call->n_enum; k++)
        if (cut_all(s, &len, call->enums[order[k]], strlen(call->enums[order[k]]))) found = order[k], n_found++;
    free(s);
    return n_found == 1 ? found : -1;
}

char *srv_call_arguments(const srv_call *call, const char *text, size_t len) {
    int k = -1;
    if (call->enum_prop >= 0 && (k = srv_call_snap(call, text, len)) < 0) return NULL;
    cJSON *o = cJSON_CreateObject();
    char *t = malloc(len + 1), *s = NULL;
    if (o && t) {
        memcpy(t, text, len);
        t[len] = 0;
        int ok = 1;
        for (int i = 0; ok && i < call->n_props; i++)
            ok = cJSON_AddStringToObject(o, call->props[i], i == call->enum_prop ? call->enums[k] : t) != NULL;
        if (ok) s = cJSON_PrintUnformatted(o);
    }
    free(t);
    cJSON_Delete(o);
    return s;
}
