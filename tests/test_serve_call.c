/* serve function calls (serve/call.h) without a server: which bodies force
 * a call and what its arguments are, Arize Phoenix's llm_classify request
 * first (its default: functions + function_call "record_response" with the
 * rails as the enum of "response"), the rail rule on replies, and every
 * refusal with its status, parameter and message. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "serve/call.h"
#include "serve/request.h"

static const srv_limits lim = {.max_texts = 4, .max_text = 4096, .max_messages = 3, .max_tokens = 300};

#define MSG "\"messages\": [{\"role\": \"user\", \"content\": \"Is this toxic?\"}]"
/* what phoenix.evals sends for llm_classify(..., rails=["toxic", "non-toxic"], provide_explanation=True) */
#define PHOENIX                                                                                                        \
    "{\"model\": \"phi3\", " MSG ", \"frequency_penalty\": 0, \"presence_penalty\": 0, \"top_p\": 1, \"n\": 1, "        \
    "\"max_tokens\": 256, \"temperature\": 0.0, \"functions\": [{\"name\": \"record_response\", \"description\": "        \
    "\"A function to record your response.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"explanation\": " \
    "{\"type\": \"string\", \"description\": \"Explanation of the reasoning for your response.\"}, \"response\": "        \
    "{\"type\": \"string\", \"description\": \"Your response.\", \"enum\": [\"toxic\", \"non-toxic\"]}}, "                \
    "\"required\": [\"explanation\", \"response\"]}}], \"function_call\": {\"name\": \"record_response\"}}"
#define RAILS_FN(name)                                                                                                 \
    "{\"name\": \"" name "\", \"parameters\": {\"type\": \"object\", \"properties\": {\"label\": {\"type\": \"string\", " \
    "\"enum\": [\"yes\", \"no\", \"Maybe\"]}}}}"

static int parse(const char *body, srv_gen_req *r, srv_error *e) {
    memset(e, 0, sizeof *e);
    return srv_parse_generate(body, strlen(body), 1, &lim, r, e);
}

/* The arguments for reply, as an object (NULL: no call). */
static cJSON *args(const srv_call *c, const char *reply) {
    char *s = srv_call_arguments(c, reply, strlen(reply));
    cJSON *o = s ? cJSON_Parse(s) : NULL;
    free(s);
    return o;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void phoenix(void) {
    srv_gen_req r;
    srv_error e;
    CHECK(parse(PHOENIX, &r, &e) == 0 && r.call, "Phoenix's request: %s", e.message);
    if (!r.call) return;
    const srv_call *c = r.call;
    CHECK(c->forced && !c->tools && !strcmp(c->name, "record_response") && c->n_props == 2 &&
              !strcmp(c->props[0], "explanation") && !strcmp(c->props[1], "response") && c->enum_prop == 1 &&
              c->n_enum == 2 && !strcmp(c->enums[0], "toxic") && !strcmp(c->enums[1], "non-toxic"),
          "the call: forced %d tools %d name %s props %d enum prop %d values %d", c->forced, c->tools, c->name, c->n_props,
          c->enum_prop, c->n_enum);
    static const struct {
        const char *reply, *label; /* label NULL: no call, the reply as text */
    } cases[] = {
        {"toxic", "toxic"},
        {"non-toxic", "non-toxic"},
        {"Non-Toxic. The text is a polite question.", "non-toxic"},
        {"TOXIC\nIt insults the reader.", "toxic"},
        {"toxic or non-toxic", NULL}, /* both rails: Phoenix's rule says unparsable */
        {"I cannot tell.", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *a = args(c, cases[i].reply);
        if (!cases[i].label) {
            CHECK(a == NULL, "reply '%s': called with response '%s', want no call", cases[i].reply, str(a, "response"));
        } else {
            CHECK(a && !strcmp(str(a, "response"), cases[i].label) && !strcmp(str(a, "explanation"), cases[i].reply) &&
                      cJSON_GetArraySize(a) == 2,
                  "reply '%s': response '%s' (want %s), explanation '%s'", cases[i].reply, str(a, "response"),
                  cases[i].label, str(a, "explanation"));
        }
        cJSON_Delete(a);
    }
    srv_gen_req_free(&r);
    CHECK(r.call == NULL, "freed");
}

static void forms(void) {
    srv_gen_req r;
    srv_error e;
    /* tools, forced by name; longest value first, case kept as the schema has it */
    CHECK(parse("{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("judge") "}, {\"type\": "
                "\"function\", \"function\": {\"name\": \"other\"}}], \"tool_choice\": {\"type\": \"function\", "
                "\"function\": {\"name\": \"judge\"}}}", &r, &e) == 0 && r.call && r.call->tools && r.call->forced &&
              !strcmp(r.call->name, "judge"),
          "tools, named: %s", e.message);
    if (r.call) {
        cJSON *a = args(r.call, "MAYBE so");
        CHECK(a && !strcmp(str(a, "label"), "Maybe"), "'MAYBE so' -> '%s'", str(a, "label"));
        cJSON_Delete(a);
        a = args(r.call, "yes and no");
        CHECK(!a, "two values named: no call");
        cJSON_Delete(a);
    }
    srv_gen_req_free(&r);
    /* "required" with one tool forces it */
    CHECK(parse("{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("judge") "}], \"tool_choice\": "
                "\"required\"}", &r, &e) == 0 && r.call && r.call->forced,
          "required, one tool: %s", e.message);
    srv_gen_req_free(&r);
    /* not forced: answered in text, nothing kept */
    const char *unforced[] = {
        "{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("judge") "}]}",
        "{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("judge") "}], \"tool_choice\": \"auto\"}",
        "{" MSG ", \"functions\": [" RAILS_FN("judge") "], \"function_call\": \"none\"}",
        "{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": "
        "\"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}}}}], \"stream\": true}",
    };
    for (size_t i = 0; i < sizeof unforced / sizeof unforced[0]; i++) {
        CHECK(parse(unforced[i], &r, &e) == 0 && r.call == NULL, "unforced %zu: %s", i, e.message);
        srv_gen_req_free(&r);
    }
    /* a function without an enum: every property gets the text */
    CHECK(parse("{" MSG ", \"functions\": [{\"name\": \"note\", \"parameters\": {\"type\": \"object\", \"properties\": "
                "{\"text\": {\"type\": \"string\"}}}}], \"function_call\": {\"name\": \"note\"}}", &r, &e) == 0 && r.call,
          "no enum: %s", e.message);
    if (r.call) {
        cJSON *a = args(r.call, "anything");
        CHECK(a && !strcmp(str(a, "text"), "anything"), "no enum: text '%s'", str(a, "text"));
        cJSON_Delete(a);
    }
    srv_gen_req_free(&r);
}

static void refusals(void) {
    static const struct {
        const char *body;
        const char *param, *says;
    } bad[] = {
        {"{" MSG ", \"functions\": [" RAILS_FN("judge") "], \"function_call\": {\"name\": \"other\"}}", "function_call",
         "not among the functions"},
        {"{" MSG ", \"function_call\": {\"name\": \"judge\"}}", "function_call", "without 'functions'"},
        {"{" MSG ", \"functions\": [" RAILS_FN("judge") "], \"tools\": [{\"type\": \"function\", \"function\": "
         RAILS_FN("judge") "}]}", "tools", "not both"},
        {"{" MSG ", \"tools\": [{\"type\": \"retrieval\"}]}", "tools", "type \"function\""},
        {"{" MSG ", \"functions\": [{\"name\": \"bad name!\"}]}", "functions", "letters, digits"},
        {"{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("a") "}, {\"type\": \"function\", "
         "\"function\": " RAILS_FN("b") "}], \"tool_choice\": \"required\"}", "tool_choice", "cannot choose"},
        {"{" MSG ", \"tools\": [{\"type\": \"function\", \"function\": " RAILS_FN("a") "}], \"tool_choice\": \"always\"}",
         "tool_choice", "\"none\", \"auto\""},
        {"{" MSG ", \"functions\": [{\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"properties\": {\"n\": "
         "{\"type\": \"integer\"}}}}], \"function_call\": {\"name\": \"f\"}}", "functions", "property \"n\""},
        {"{" MSG ", \"functions\": [{\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"properties\": {\"a\": "
         "{\"type\": \"string\", \"enum\": [\"x\"]}, \"b\": {\"type\": \"string\", \"enum\": [\"y\"]}}}}], "
         "\"function_call\": {\"name\": \"f\"}}", "functions", "more than one property has an enum"},
        {"{" MSG ", \"functions\": [{\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"properties\": {\"a\": "
         "{\"type\": \"string\", \"enum\": [\"\"]}}}}], \"function_call\": {\"name\": \"f\"}}", "functions", "non-empty"},
        {"{" MSG ", \"functions\": [{\"name\": \"f\"}], \"function_call\": {\"name\": \"f\"}}", "functions",
         "1 to 16 properties"},
        {"{" MSG ", \"stream\": true, \"functions\": [" RAILS_FN("judge") "], \"function_call\": {\"name\": \"judge\"}}",
         "stream", "cannot be streamed"},
    };
    srv_gen_req r;
    srv_error e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].body, &r, &e);
        CHECK(rc == -1 && e.status == 400 && !strcmp(e.param, bad[i].param) && strstr(e.message, bad[i].says),
              "case %zu: %d %d [%s] %s", i, rc, e.status, e.param, e.message);
        CHECK(r.call == NULL && r.msgs == NULL, "case %zu: nothing left after a refusal", i);
    }
    /* completions take no function fields */
    memset(&e, 0, sizeof e);
    const char *comp = "{\"prompt\": \"x\", \"functions\": [" RAILS_FN("judge") "]}";
    CHECK(srv_parse_generate(comp, strlen(comp), 0, &lim, &r, &e) == -1 && !strcmp(e.param, "functions") &&
              strstr(e.message, "chat/completions"),
          "completions with functions: [%s] %s", e.param, e.message);
}

int main(void) {
    phoenix();
    forms();
    refusals();
    return test_finish();
}
