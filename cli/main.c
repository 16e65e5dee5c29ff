/* phi3vk: run Phi-3 (and the grounded-ai toxicity judge) on any Vulkan GPU. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/utf8.h"

/* One line per subcommand; add yours here when its cmd_<name>.c lands. */
static const cli_command commands[] = {
    {"devices", cmd_devices, "list Vulkan devices and their capabilities (--json)"},
    {"pull", cmd_pull, "download a Hugging Face model repo into the HF cache (resumes, verifies)"},
    {"inspect", cmd_inspect, "show a checkpoint: config, tensors, GGUF metadata, tokenizer, stop ids"},
    {"convert", cmd_convert, "write a Hugging Face Phi-3 folder as an F16 GGUF that llama.cpp loads (--tokenizer)"},
    {"synth", cmd_synth, "write a random-weight Phi-3 checkpoint (HF folder or GGUF) for tests/benchmarks"},
    {"tokenize", cmd_tokenize, "text -> Phi-3 token ids or pieces (--chat, --no-bos, --bench FILE)"},
    {"detokenize", cmd_detokenize, "Phi-3 token ids -> text (--skip-special)"},
    {"generate", cmd_generate, "continue a prompt, streaming the text (--chat, sampling options, --seed)"},
    {"perplexity", cmd_perplexity, "perplexity over a text file in windows, like llama-perplexity"},
    {"logits", cmd_logits, "logits of every position as a NumPy .npy file [positions, vocab]"},
    {"classify", cmd_classify, "the toxicity judge: label, P(toxic) and reason per text, file or stdin (resumable)"},
    {"eval", cmd_eval, "the judge over a labelled file: scikit-learn report, confusion matrix, ROC-AUC"},
    {"serve", cmd_serve, "HTTP server: OpenAI-compatible chat/completions and /v1/classify, continuous batching"},
    {"bench", cmd_bench, "tokens/s of prefill and generation per device, with an attested correctness check"},
    {"bench-compare", cmd_bench_compare, "rows of bench output files side by side: ratios, significance, --plot"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);


void cli_print_safe(FILE *f, const char *str, size_t n, int keep_newlines) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7F) {
            fputc((int)c, f);
            i++;
        } else if (c == '\n' || c == '\t') {
            if (keep_newlines) fputc((int)c, f);
            else fputs(c == '\n' ? "\\n" : "\\t", f);
            i++;
        } else if (c < 0x80) {
            fprintf(f, "\\x%02x", c);
            i++;
        } else {
            size_t k = util_utf8_char(s + i, n - i);
            if (!k) fprintf(f, "\\x%02x", c), k = 1;
            else if (c == 0xC2 && s[i + 1] <= 0x9F) fprintf(f, "\\u%04x", s[i + 1]); /* C1: CSI, OSC ... */
            else fwrite(s + i, 1, k, f);
            i += k;
        }
    }
}

void cli_error(const char *cmd, const char *fmt, ...) {
    char msg[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "phi3vk %s: ", cmd);
    cli_print_safe(stderr, msg, strlen(msg), 1);
    fputc('\n', stderr);
}

int cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

static void usage(FILE *f) {
    fprintf(f, "phi3vk %s (%s): Phi-3 inference on any Vulkan GPU\n\n", PHI3VK_VERSION, PHI3VK_COMMIT);
    fprintf(f, "usage: phi3vk <command> [options]    (phi3vk help <command>, or <command> --help, for details)\n"
               "\ncommands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-12s %s\n", "help", "this list, or `phi3vk help COMMAND`: the command's options");
    fprintf(f, "  %-12s %s\n", "version", "the version and commit (also --version)");
    fprintf(f, "\nexit status: 0 done, 1 error, 2 usage error, 3 done but items were skipped (classify, eval),\n"
               "130 interrupted (Ctrl-C). Repo ids owner/name[@revision] work wherever a model or a tokenizer\n"
               "is named (-m, --tokenizer), found in the Hugging Face cache (phi3vk pull fetches them).\n");
}

static const cli_command *find_command(const char *name) {
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

/* `phi3vk help [COMMAND]`: the list, or the command's --help. */
static int help(int argc, char **argv) {
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    if (argc > 3) {
        fprintf(stderr, "phi3vk help: one command at a time (see phi3vk help)\n");
        return 2;
    }
    if (!strcmp(argv[2], "help") || !strcmp(argv[2], "version")) {
        usage(stdout);
        return 0;
    }
    const cli_command *c = find_command(argv[2]);
    if (!c) {
        fprintf(stderr, "phi3vk help: unknown command '");
        cli_print_safe(stderr, argv[2], strlen(argv[2]), 0);
        fprintf(stderr, "' (see phi3vk help)\n");
        return 2;
    }
    char *sub[] = {argv[2], "--help", NULL};
    return c->run(2, sub);
}

int main(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        if (argc > 2) {
            fprintf(stderr, "phi3vk version: takes no arguments\n");
            return 2;
        }
        printf("phi3vk %s (%s)\n", PHI3VK_VERSION, PHI3VK_COMMIT);
        return 0;
    }
    if (!strcmp(argv[1], "help")) return help(argc, argv);
    const cli_command *c = find_command(argv[1]);
    if (c) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "phi3vk: unknown command '");
    cli_print_safe(stderr, argv[1], strlen(argv[1]), 0);
    fprintf(stderr, "'\n");
    usage(stderr);
    return 2;
}
