/* phi3vk tokenize / detokenize: text <-> Phi-3 token ids, for users and for
 * checking against Hugging Face; tokenize --bench measures encoding speed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "formats/mapfile.h"
#include "tokenizer/tok.h"
#include "util/time.h"

#define TOKENIZER_HELP                                                                                  \
    "  --tokenizer PATH  a tokenizer.json, a folder holding one, a .gguf with tokenizer.ggml.*, or a\n" \
    "                    repo id owner/name[@revision] in the Hugging Face cache (default: the\n"      \
    "                    environment variable PHI3VK_TOKENIZER)\n"

static const char *tokenize_usage =
    "usage: phi3vk tokenize [--tokenizer PATH] [--ids|--pieces] [--chat] [--system TEXT]\n"
    "                       [--no-bos] [--special-as-text] TEXT|-\n"
    "       phi3vk tokenize [--tokenizer PATH] --bench FILE [--seconds S]\n"
    "\n"
    "Encodes TEXT ('-' reads standard input) with the Phi-3 tokenizer exactly as Hugging Face\n"
    "does: added tokens such as <|user|> are matched first (honouring their rstrip flags), each\n"
    "other stretch of text gets a leading '\xE2\x96\x81', characters outside the vocabulary become <0xNN>\n"
    "byte pieces. BOS (id 1) is prepended unless --no-bos.\n"
    "\n"
    TOKENIZER_HELP
    "  --ids             print the ids on one line, space separated (default)\n"
    "  --pieces          print one 'id<TAB>piece' line per token: the piece as the vocabulary\n"
    "                    holds it ('\xE2\x96\x81' for a space, <0xNN> for a byte), only bytes that\n"
    "                    could drive a terminal escaped (\\n, \\t, \\xNN, \\u00NN)\n"
    "  --chat            wrap TEXT as one user message of Phi-3's chat template:\n"
    "                    <|user|>\\nTEXT<|end|>\\n<|assistant|>\\n\n"
    "  --system TEXT     with --chat: a system message first (<|system|>\\nTEXT<|end|>\\n)\n"
    "  --no-bos          do not prepend BOS\n"
    "  --special-as-text encode special tokens written in TEXT as plain characters\n"
    "  --bench FILE      encode every line of FILE repeatedly for S seconds (default 2) on one\n"
    "                    core and print the speed in MB/s\n";

static const char *detokenize_usage =
    "usage: phi3vk detokenize [--tokenizer PATH] [--skip-special] [--keep-leading-space] IDS...\n"
    "\n"
    "Decodes token ids (separated by commas and/or spaces, in one or more arguments; '-' reads\n"
    "them from standard input) into text, like Hugging Face's decode: '\xE2\x96\x81' becomes a space,\n"
    "<0xNN> pieces are joined into UTF-8, the first leading space is dropped and special tokens\n"
    "are printed as their text. Prints the text and a newline.\n"
    "\n"
    TOKENIZER_HELP
    "  --skip-special        leave special tokens (<s>, <|user|>, ...) out\n"
    "  --keep-leading-space  keep the leading space of the first word\n";

/* --tokenizer, else $PHI3VK_TOKENIZER, else an error saying how to give one. */
static tok_tokenizer *open_tokenizer(const char *cmd, const char *path) {
    if (!path || !*path) path = getenv("PHI3VK_TOKENIZER");
    if (!path || !*path) {
        cli_error(cmd, "no tokenizer: pass --tokenizer PATH (a tokenizer.json, a folder with one, or a .gguf) "
                       "or set PHI3VK_TOKENIZER");
        return NULL;
    }
    char err[1024], resolved[4096];
    if (cli_resolve_spec(cmd, "--tokenizer", path, resolved, sizeof resolved)) return NULL;
    tok_tokenizer *t = tok_load_path(resolved, err, sizeof err);
    if (!t) cli_error(cmd, "%s", err);
    return t;
}

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap) break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            return NULL;
        }
        buf = p;
        cap *= 2;
    }
    if (buf) buf[n] = 0; /* the loop ends with n < cap */
    *len = n;
    return buf;
}

/* "id<TAB>piece": the vocabulary's bytes, with only what could drive a
 * terminal escaped (a hostile tokenizer's pieces are not trusted). */
static void print_piece(const tok_tokenizer *t, int32_t id) {
    tok_piece_info pi;
    if (tok_vocab_get(t, id, &pi) != 0) return;
    printf("%d\t", id);
    cli_print_safe(stdout, pi.text, pi.len, 0);
    putchar('\n');
}


/* Encodes every line of path again and again for `seconds`; prints MB/s. */
static int run_bench(const tok_tokenizer *t, const char *path, double seconds) {
    char err[1024];
    size_t len;
    char *buf = fmt_read_file(path, (size_t)1 << 30, &len, err, sizeof err);
    if (!buf) {
        cli_error("tokenize", "%s", err);
        return 1;
    }
    size_t passes = 0, ids = 0, lines = 0;
    tok_ids v = {0};
    double w0 = util_now_s();
    clock_t c0 = clock();
    do {
        for (char *p = buf; p < buf + len;) {
            char *eol = memchr(p, '\n', (size_t)(buf + len - p));
            size_t n = eol ? (size_t)(eol - p) : (size_t)(buf + len - p);
            v.n = 0;
            if (tok_encode(t, p, n, 0, &v, err, sizeof err) != 0) {
                cli_error("tokenize", "%s", err);
                free(buf);
                tok_ids_free(&v);
                return 1;
            }
            if (passes == 0) {
                ids += v.n;
                lines++;
            }
            p += n + 1;
        }
        passes++;
    } while (util_now_s() - w0 < seconds);
    double wall = util_now_s() - w0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("%s: %zu bytes, %zu lines, %zu ids per pass; %zu passes in %.2f s (%.2f s CPU)\n", path, len, lines, ids,
           passes, wall, cpu);
    printf("%.2f MB/s wall, %.2f MB/s CPU, one thread (%s tokenizer)\n", (double)len * passes / wall / 1e6,
           (double)len * passes / (cpu > 0 ? cpu : wall) / 1e6, tok_source_kind(t));
    tok_ids_free(&v);
    free(buf);
    return 0;
}

static int need_value(int i, int argc, const char *cmd, const char *opt) {
    if (i + 1 < argc) return 1;
    cli_error(cmd, "%s needs a value (see --help)", opt);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *tpath = NULL, *text = NULL, *system = NULL, *bench = NULL;
    int pieces = 0, chat = 0, bos = 1, as_text = 0;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(tokenize_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--tokenizer") || !strcmp(a, "--system") || !strcmp(a, "--bench") ||
                   !strcmp(a, "--seconds")) {
            if (!need_value(i, argc, "tokenize", a)) return 2;
            const char *v = argv[++i];
            if (!strcmp(a, "--tokenizer")) tpath = v;
            else if (!strcmp(a, "--system")) system = v;
            else if (!strcmp(a, "--bench")) bench = v;
            else {
                char *end;
                seconds = strtod(v, &end);
                if (*end || !(seconds > 0 && seconds <= 3600)) {
                    cli_error("tokenize", "--seconds %s: expected a number of seconds in (0, 3600]", v);
                    return 2;
                }
            }
        } else if (!strcmp(a, "--ids")) pieces = 0;
        else if (!strcmp(a, "--pieces")) pieces = 1;
        else if (!strcmp(a, "--chat")) chat = 1;
        else if (!strcmp(a, "--no-bos")) bos = 0;
        else if (!strcmp(a, "--special-as-text")) as_text = 1;
        else if (a[0] == '-' && a[1] && strcmp(a, "--")) {
            cli_error("tokenize", "unknown option %s (see --help)", a);
            return 2;
        } else if (text) {
            cli_error("tokenize", "one TEXT argument expected (quote it); got also \"%s\"", a);
            return 2;
        } else {
            text = !strcmp(a, "--") && i + 1 < argc ? argv[++i] : a;
        }
    }
    if (!text && !bench) {
        cli_error("tokenize", "missing TEXT (or --bench FILE); see --help");
        return 2;
    }
    if (system && !chat) {
        cli_error("tokenize", "--system needs --chat");
        return 2;
    }
    tok_tokenizer *t = open_tokenizer("tokenize", tpath);
    if (!t) return 1;
    if (bench) {
        int rc = run_bench(t, bench, seconds);
        tok_destroy(t);
        return rc;
    }
    size_t len = strlen(text);
    char *input = NULL;
    if (!strcmp(text, "-")) {
        input = read_stdin(&len);
        if (!input) {
            cli_error("tokenize", "out of memory reading standard input");
            tok_destroy(t);
            return 1;
        }
        text = input;
    }
    char err[1024];
    tok_ids v = {0};
    int rc;
    if (chat) {
        tok_chat_msg msgs[2] = {{"system", system}, {"user", text}};
        unsigned f = (bos ? 0 : TOK_CHAT_NO_BOS) | (as_text ? TOK_CHAT_CONTENT_AS_TEXT : 0);
        rc = system ? tok_chat_encode(t, msgs, 2, f, &v, err, sizeof err)
                    : tok_chat_encode(t, msgs + 1, 1, f, &v, err, sizeof err);
    } else {
        unsigned f = (bos ? TOK_ENCODE_BOS : 0) | (as_text ? TOK_ENCODE_SPECIAL_AS_TEXT : 0);
        rc = tok_encode(t, text, len, f, &v, err, sizeof err);
    }
    if (rc != 0) {
        cli_error("tokenize", "%s", err);
    } else if (pieces) {
        for (size_t i = 0; i < v.n; i++) print_piece(t, v.ids[i]);
    } else {
        for (size_t i = 0; i < v.n; i++) printf(i ? " %d" : "%d", v.ids[i]);
        putchar('\n');
    }
    tok_ids_free(&v);
    free(input);
    tok_destroy(t);
    return rc ? 1 : 0;
}

/* Appends the ids in s (comma/space/newline separated) to v; -1 on a bad id. */
static int parse_ids(const char *s, tok_ids *v) {
    const char *p = s;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) return 0;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX ||
            !(*end == 0 || *end == ',' || *end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
            cli_error("detokenize", "\"%.20s\" is not a token id (expected non-negative integers separated by "
                                    "commas or spaces)", p);
            return -1;
        }
        if (v->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 64;
            int32_t *q = realloc(v->ids, cap * sizeof *q);
            if (!q) return -1;
            v->ids = q;
            v->cap = cap;
        }
        v->ids[v->n++] = (int32_t)x;
        p = end;
    }
}

int cmd_detokenize(int argc, char **argv) {
    const char *tpath = NULL;
    unsigned flags = 0;
    tok_ids v = {0};
    int have = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(detokenize_usage, stdout);
            tok_ids_free(&v);
            return 0;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!need_value(i, argc, "detokenize", a)) goto usage;
            tpath = argv[++i];
        } else if (!strcmp(a, "--skip-special")) flags |= TOK_DECODE_SKIP_SPECIAL;
        else if (!strcmp(a, "--keep-leading-space")) flags |= TOK_DECODE_KEEP_LEADING_SPACE;
        else if (!strcmp(a, "-")) {
            size_t len;
            char *in = read_stdin(&len);
            int rc = in ? parse_ids(in, &v) : -1;
            free(in);
            if (rc != 0) goto usage;
            have = 1;
        } else if (a[0] == '-' && a[1] && (a[1] < '0' || a[1] > '9')) {
            cli_error("detokenize", "unknown option %s (see --help)", a);
            goto usage;
        } else {
            if (parse_ids(a, &v) != 0) goto usage;
            have = 1;
        }
    }
    if (!have) {
        cli_error("detokenize", "missing IDS; see --help");
        goto usage;
    }
    tok_tokenizer *t = open_tokenizer("detokenize", tpath);
    if (!t) {
        tok_ids_free(&v);
        return 1;
    }
    char err[1024], *text = NULL;
    size_t len = 0;
    int rc = tok_decode(t, v.ids, v.n, flags, &text, &len, err, sizeof err);
    if (rc != 0) cli_error("detokenize", "%s", err);
    else {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    free(text);
    tok_ids_free(&v);
    tok_destroy(t);
    return rc ? 1 : 0;
usage:
    tok_ids_free(&v);
    return 2;
}
