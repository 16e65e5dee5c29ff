/* phi3vk command-line front end: each subcommand is one cmd_<name>(argc, argv)
 * in cli/cmd_<name>.c. argv[0] is the subcommand's name. Commands print and
 * return the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef PHI3VK_CLI_CLI_H
#define PHI3VK_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;   /* one line for `phi3vk --help` */
} cli_command;

int cmd_devices(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* `phi3vk bench --kernels ...` (cli/cmd_bench_kernels.c); argv as cmd_bench's. */
int cmd_bench_kernels(int argc, char **argv);
/* `phi3vk bench --judge ...` (cli/cmd_bench_judge.c); argv as cmd_bench's. */
int cmd_bench_judge(int argc, char **argv);
/* `phi3vk bench-compare A.jsonl B.jsonl ...` (cli/cmd_bench_compare.c). */
int cmd_bench_compare(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "phi3vk <cmd>: <msg>" to stderr, with control characters escaped
 * (see cli_print_safe; newlines kept): messages quote ids, labels and file
 * contents, which must not drive the terminal. */
void cli_error(const char *cmd, const char *fmt, ...);
/* Writes s[0, n) to f with every byte that could drive a terminal shown as
 * an escape: C0 controls and DEL as \xNN (newlines and tabs kept when
 * keep_newlines, else \n and \t), C1 controls (U+0080..U+009F) as \u00NN,
 * bytes that are not valid UTF-8 as \xNN. */
void cli_print_safe(FILE *f, const char *s, size_t n, int keep_newlines);
/* 1 if arg equals -h or --help. */
int cli_is_help(const char *arg);

#endif
