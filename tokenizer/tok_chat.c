/* Phi-3 chat template (Phi-3-mini-4k-instruct's tokenizer_config.json,
 * chat_template) rendered without a Jinja engine. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static const char *role_tag(const char *role) {
    if (!role) return NULL;
    if (!strcmp(role, "system")) return "<|system|>\n";
    if (!strcmp(role, "user")) return "<|user|>\n";
    if (!strcmp(role, "assistant")) return "<|assistant|>\n";
    return NULL;
}

/* Renders into a malloc'ed string; ranges (if not NULL) gets 2*n offsets: the
 * [lo, hi) byte range of each message's content. */
static char *render(const tok_chat_msg *msgs, size_t n, int gen_prompt, size_t *ranges, size_t *out_len, char *err,
                    size_t errlen) {
    static const char end[] = "<|end|>\n";
    static const char tail_gen[] = "<|assistant|>\n";
    static const char tail_eos[] = "<|endoftext|>";
    size_t total = sizeof tail_gen;
    for (size_t i = 0; i < n; i++) {
        const char *tag = role_tag(msgs[i].role);
        if (!tag) {
            tok_fail(err, errlen, "chat message %zu: role \"%.20s\": expected system, user or assistant", i,
                     msgs[i].role ? msgs[i].role : "(null)");
            return NULL;
        }
        size_t clen = msgs[i].content ? strlen(msgs[i].content) : 0;
        if (clen > SIZE_MAX / 2 - total) {
            tok_fail(err, errlen, "chat message %zu is too long", i);
            return NULL;
        }
        total += strlen(tag) + clen + sizeof end;
    }
    char *s = malloc(total + 1);
    if (!s) {
        tok_fail(err, errlen, "out of memory rendering the chat template");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tag = role_tag(msgs[i].role);
        size_t tl = strlen(tag), clen = msgs[i].content ? strlen(msgs[i].content) : 0;
        memcpy(s + o, tag, tl);
        o += tl;
        if (ranges) ranges[2 * i] = o;
        if (clen) memcpy(s + o, msgs[i].content, clen);
        o += clen;
        if (ranges) ranges[2 * i + 1] = o;
        memcpy(s + o, end, sizeof end - 1);
        o += sizeof end - 1;
    }
    const char *tail = gen_prompt ? tail_gen : tail_eos;
    size_t tl = strlen(tail);
    memcpy(s + o, tail, tl);
    o += tl;
    s[o] = 0;
    if (out_len) *out_len = o;
    return s;
}

char *tok_chat_render(const tok_chat_msg *msgs, size_t n, int add_generation_prompt, char *err, size_t errlen) {
    return render(msgs, n, add_generation_prompt, NULL, NULL, err, errlen);
}

int tok_chat_encode(const tok_tokenizer *t, const tok_chat_msg *msgs, size_t n, unsigned flags, tok_ids *out,
                    char *err, size_t errlen) {
    size_t *ranges = NULL;
    if ((flags & TOK_CHAT_CONTENT_AS_TEXT) && n > 0) {
        ranges = malloc(2 * n * sizeof *ranges);
        if (!ranges) return tok_fail(err, errlen, "out of memory rendering the chat template");
    }
    size_t len;
    char *text = render(msgs, n, !(flags & TOK_CHAT_NO_GENERATION_PROMPT), ranges, &len, err, errlen);
    int rc = -1;
    if (text) {
        unsigned ef = (flags & TOK_CHAT_NO_BOS) ? 0 : TOK_ENCODE_BOS;
        rc = tok_encode_prot(t, text, len, ef, ranges, ranges ? n : 0, out, err, errlen);
    }
    free(text);
    free(ranges);
    return rc;
}
