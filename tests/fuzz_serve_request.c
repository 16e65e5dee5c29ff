/* Fuzz target: a request body as phi3vk serve receives it, parsed as each
 * endpoint's (srv_parse_classify, srv_parse_generate for chat and for
 * completions) under small limits. Invariants (abort): a refusal has an
 * HTTP status of 400, 413 or 500, a type and a message, and its error body
 * is JSON; an accepted request stays within the limits (items, text bytes,
 * messages, stop strings, max_tokens, top_logprobs) and holds no NUL. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/call.h"
#include "serve/request.h"

static const srv_limits lim = {.max_texts = 8, .max_text = 4096, .max_messages = 8, .max_tokens = 512};

static void check_error(const srv_error *e) {
    if ((e->status != 400 && e->status != 413 && e->status != 500) || !e->type[0] || !e->message[0]) abort();
    char *s = srv_error_json(e);
    cJSON *o = s ? cJSON_Parse(s) : NULL;
    if (!o || !cJSON_IsObject(cJSON_GetObjectItem(o, "error"))) abort();
    cJSON_Delete(o);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    srv_error e = {0};
    srv_classify_req c;
    if (srv_parse_classify(body, size, &lim, &c, &e)) check_error(&e);
    else {
        if (c.n < 1 || c.n > lim.max_texts || c.max_tokens < 0 || c.max_tokens > lim.max_tokens) abort();
        for (int i = 0; i < c.n; i++)
            if (!c.ids[i][0] || c.lens[i] > lim.max_text || strlen(c.texts[i]) != c.lens[i]) abort();
        srv_classify_req_free(&c);
    }
    for (int chat = 0; chat < 2; chat++) {
        srv_gen_req g;
        memset(&e, 0, sizeof e);
        if (srv_parse_generate(body, size, chat, &lim, &g, &e)) {
            check_error(&e);
            continue;
        }
        if (g.max_tokens > lim.max_tokens || g.max_tokens == 0 || g.max_tokens < -1 || g.top_logprobs < 0 ||
            g.top_logprobs > SRV_MAX_TOP_LOGPROBS || g.n_stop > SRV_MAX_STOP || !(g.temperature >= 0 && g.temperature <= 2) ||
            !(g.top_p > 0 && g.top_p <= 1))
            abort();
        if (chat && (g.n_msgs < 1 || g.n_msgs > lim.max_messages)) abort();
        for (int i = 0; chat && i < g.n_msgs; i++)
            if (strlen(g.msgs[i].content) > lim.max_text) abort();
        if (!chat && (!g.prompt || strlen(g.prompt) > lim.max_text)) abort();
        for (int i = 0; i < g.n_stop; i++)
            if (!g.stop[i][0] || strlen(g.stop[i]) > SRV_MAX_STOP_BYTES) abort();
        if (g.call) { /* a forced function call: its schema, and the call a message's text would give */
            const srv_call *c = g.call;
            if (!chat || !c->forced || g.stream || c->n_props < 1 || c->n_props > SRV_CALL_MAX_PROPS || !c->name[0] ||
                c->enum_prop >= c->n_props || (c->enum_prop >= 0) != (c->n_enum > 0))
                abort();
            const char *text = g.msgs[g.n_msgs - 1].content;
            char *args = srv_call_arguments(c, text, strlen(text));
            int k = srv_call_snap(c, text, strlen(text));
            if (c->enum_prop >= 0 && (args != NULL) != (k >= 0)) abort();
            cJSON *a = args ? cJSON_Parse(args) : NULL;
            if (args && (!cJSON_IsObject(a) || cJSON_GetArraySize(a) > c->n_props)) abort();
            cJSON_Delete(a);
            free(args);
        }
        srv_gen_req_free(&g);
    }
    return 0;
}
