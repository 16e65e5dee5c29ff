/* Options and helpers shared by the commands that run a model (generate,
 * perplexity, logits, ...), so that every one of them takes the same flags
 * with the same help lines, opens the model the same way and reports errors
 * and device memory in the same words. Everything here prints; only cli/
 * includes it. */
#ifndef PHI3VK_CLI_COMMON_H
#define PHI3VK_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* Help lines for the flags cli_model_arg accepts; commands print them under
 * their own usage text. */
#define CLI_MODEL_HELP                                                                                   \
    "model options:\n"                                                                                   \
    "  -m, --model MODEL  a Hugging Face folder (config.json + *.safetensors) or a .gguf file\n"         \
    "                     (default: the environment variable PHI3VK_MODEL)\n"                          \
    "  --tokenizer PATH   a tokenizer.json or a folder with one, used instead of the model's own\n"      \
    "  --device N|NAME    Vulkan device index or name substring (see phi3vk devices);\n"              \
    "                     default: the first discrete GPU, else integrated, ..., else CPU\n"          \
    "  --ctx N            context (KV cache) length in tokens\n"                                      \
    "  --no-bos           do not put BOS (<s>) before the text\n"                                       \
    "  --device-profile P kernels of device class P: auto (default: from the device; or the\n"       \
    "                     environment variable PHI3VK_DEVICE_PROFILE), cpu, nvidia, amd, intel, gpu\n" \
    "  --no-self-test     skip the kernel self-test a device gets before its first use\n"           \
    "  --validate         run with the Khronos validation layer (slow; for debugging); the exit\n"    \
    "                     code is 1 if it reported anything\n"                                         \
    "  -v, --verbose      print the device, load progress, device memory (weights, KV cache,\n"       \
    "                     scratch) and speeds on stderr\n"                                              \
    "  --layers N         run only the first N layers (benchmarks; the output is not meaningful)\n"    \
    "  --weights T        store the matrices as T while loading: f16, q8_0, q4_0, q4_k, q4_k_m\n"   \
    "                     (quantized in registers by the kernels; default: as the file stores them,\n" \
    "                     float types as f16)\n"

/* Values of the shared flags. Zero-initialise, then feed every argument to
 * cli_model_arg. */
typedef struct cli_model_args {
    const char *model;     /* -m; NULL: $PHI3VK_MODEL */
    const char *tokenizer; /* --tokenizer; NULL: the model's own */
    const char *device;    /* --device; NULL: default rule */
    const char *device_profile; /* --device-profile; NULL: $PHI3VK_DEVICE_PROFILE, else auto */
    int no_self_test;      /* --no-self-test */
    int n_ctx;             /* --ctx; 0: not given (each command picks its default) */
    int layers;            /* --layers; 0: all */
    int no_bos;            /* --no-bos */
    int validate;          /* --validate */
    int verbose;           /* -v */
    phi3_quant weights;    /* --weights; NONE: as stored */
} cli_model_args;

/* If argv[*i] is one of the shared flags, stores it (consuming its value,
 * *i advanced past it) and returns 1; returns 0 when the argument is not a
 * shared flag; prints a message and returns -1 for a flag without a value or
 * with a bad one (a usage error: exit code 2). */
int cli_model_arg(cli_model_args *a, const char *cmd, int argc, char **argv, int *i);

/* Opens the model named by a->model (or $PHI3VK_MODEL) with the shared
 * options, on a device that passed the self-test (bench/selftest.h; run
 * first when no verdict is cached, unless --no-self-test; a kernel that
 * failed it runs its portable variant, said in one warning line).
 * need_tokenizer: fail, saying how to pass one, when the model has no
 * tokenizer. Prints the error (naming the path and what to do) and returns
 * NULL on failure. */
eng_model *cli_model_open(const char *cmd, const cli_model_args *a, int need_tokenizer);

/* Plans (eng_plan_make) and creates a context for r and, with a->verbose,
 * prints the device memory in use: weights + KV cache + scratch = total.
 * Prints the error and returns NULL on failure. */
eng_ctx *cli_ctx_create(const char *cmd, eng_model *m, const cli_model_args *a, const eng_plan_request *r);

/* Closes ctx and model (either may be NULL). With --validate, prints how
 * many validation messages the run produced when there were any, and
 * returns 1 then (so a test run fails), else 0. */
int cli_model_close(eng_model *m, eng_ctx *c);

/* Creates the Vulkan context of a model command (device, profile,
 * validation) and gives it the self-test verdict (unless no_self_test).
 * quiet: no note about a CPU device being used. Prints the error and returns
 * NULL on failure or a refused device. */
vkr_ctx *cli_vk_open(const char *cmd, const char *device, const char *device_profile, int validate, int verbose,
                     int no_self_test, int quiet);

/* 0 when name is "auto" or a device profile name (vkr.h); else prints the
 * usage error and returns -1. */
int cli_check_device_profile(const char *cmd, const char *name);

/* Parses an integer option value in [lo, hi]; prints "cmd: OPT: expected an
 * integer in [lo, hi], found 'v'" and returns -1 otherwise. */
int cli_parse_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out);
/* Same for a finite real number in [lo, hi]. */
int cli_parse_double(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out);
/* 1 when argv[*i] is opt; then, if a value follows, *val is set to it and
 * *i advanced; a missing value prints an error and sets *val to NULL. */
int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *opt, const char **val);

/* Reads a whole text file ("-" = standard input) into a malloc'ed
 * NUL-terminated buffer, *len bytes. Prints the error and returns NULL. */
char *cli_read_text(const char *cmd, const char *path, size_t *len);

/* Encodes text for the model: BOS first unless a->no_bos. With chat, the
 * text is one user message of Phi-3's chat template (after a system message
 * when system is not NULL) ending in the assistant prompt. Appends to out.
 * Prints the error and returns -1 on failure. */
struct tok_ids;
int cli_encode_prompt(const char *cmd, const eng_model *m, const cli_model_args *a, const char *text, size_t len,
                      int chat, const char *system, struct tok_ids *out);

/* Parses "1,2,3" (commas and/or spaces) into out. Prints an error naming the
 * bad item and returns -1 for anything that is not a non-negative integer. */
int cli_parse_ids(const char *cmd, const char *s, struct tok_ids *out);


#endif
