/* serve function calls: OpenAI's "functions" / "function_call" (legacy) and
 * "tools" / "tool_choice" fields of a chat request, and the call that
 * answers a forced one.
 *
 * Phi-3 was not trained to call functions, and phi3vk does not constrain
 * its output to a JSON grammar. What it does honour is the form evaluation
 * libraries use to pin a judge's answer to a set of labels (Arize Phoenix's
 * llm_classify sends one function, "record_response", with a "response"
 * string whose enum is the rails, and forces it):
 *  - a forced call (function_call {"name"}, tool_choice {"type":
 *    "function", ...}, or "required" with one tool) of a function whose
 *    parameters are string properties, at most one of them with an enum,
 *    is answered by generating the reply as text and calling the function
 *    with the enum value the text names (Phoenix's rail rule: lowercase,
 *    longest value first, each found value's occurrences removed, exactly
 *    one found) and the whole text in every other property. When the text
 *    names no value or several, the reply is the text itself, uncalled: a
 *    client then sees that the model gave no valid answer instead of a
 *    guessed one.
 *  - functions or tools that are not forced ("auto", "none", or no choice
 *    given) are answered in text: the model chose not to call.
 *  - anything else (parameters of other types, several enums, "required"
 *    among several tools, a forced call with "stream") is a 400 naming the
 *    field. */
#ifndef PHI3VK_SERVE_CALL_H
#define PHI3VK_SERVE_CALL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "serve/request.h"

#define SRV_CALL_MAX_PROPS 16
#define SRV_CALL_MAX_ENUM 64
#define SRV_CALL_MAX_NAME 64
#define SRV_CALL_MAX_FUNCS 128

typedef struct srv_call {
    int forced;                       /* the reply calls `name` (when its text names one value) */
    int tools;                        /* asked through tools (reply: tool_calls), else functions
                                         (reply: function_call) */
    char name[SRV_CALL_MAX_NAME + 1]; /* the forced function */
    int n_props;
    char *props[SRV_CALL_MAX_PROPS];  /* the string properties, in the schema's order (owned) */
    int enum_prop;                    /* the property holding the enum, -1 for none */
    int n_enum;
    char *enums[SRV_CALL_MAX_ENUM];   /* its values (owned) */
} srv_call;

/* Reads the call fields of a request body's root object o into *call
 * (zeroed first; call->forced 0 when none are given or none is forced).
 * chat 0 (completions): any of them is a 400. Returns 0, or -1 with e. */
int srv_call_parse(const cJSON *o, int chat, srv_call *call, srv_error *e);

/* Frees what *call owns and zeroes it. */
void srv_call_free(srv_call *call);

/* The index of the enum value that text (len bytes) names by the rail
 * rule above, or -1 when it names none or several (or there is no enum).
 * Lowercasing is ASCII-only, as in judge/label.h. */
int srv_call_snap(const srv_call *call, const char *text, size_t len);

/* The forced call's arguments for reply text: a JSON object (malloc'ed
 * string) with the named enum value and the text in every other property;
 * NULL when the text names no single value (answer with the text) or out
 * of memory. */
char *srv_call_arguments(const srv_call *call, const char *text, size_t len);

#endif
