/* phi3vk command-line front end: each subcommand is one cmd_<name>(argc, argv)
 * in cli/cmd_<name>.c. argv[0] is the subcommand's name. Commands print and
 * return the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef PHI3VK_CLI_CLI_H
#define PHI3VK_CLI_CLI_H

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
int cmd_pull(int argc, char **argv);

/* Prints "phi3vk <cmd>: <msg>" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...);
/* 1 if arg equals -h or --help. */
int cli_is_help(const char *arg);

#endif
