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
    "  -m, --model MODEL  a Hugging Face folder (config.json + *.safetensors), a .gguf file, or a repo\n"  \
    "                     id owner/name[@revision] in the Hugging Face cache (phi3vk pull fetches it)\n"  \
    "                     (default: the environment variable PHI3VK_MODEL)\n"                          \
    "  --tokenizer PATH   a tokenizer.json, a folder with one, a .gguf or a repo id, used instead of the\n" \
    "                     model's own (a model that ships none, like the toxicity judge, gets its base\n"  \
    "                     model's from the Hugging Face cache)\n"                                          \
    "  --device N|NAME    Vulkan device index or name substring (see phi3vk devices);\n"              \
    "                     default: the first discrete GPU, else integrated, ..., else CPU\n"          \
    "  -c, --ctx N        context (KV cache) length in tokens\n"                                      \
    "  --no-bos           do not put BOS (<s>) before the text\n"                                       \
    "  --device-profile P kernels of device class P: auto (default: from the device; or the\n"       \
    "                     environment variable PHI3VK_DEVICE_PROFILE), cpu, nvidia, amd, intel, gpu\n" \
    "  --no-self-test     skip the kernel self-test a device gets before its first use\n"           \
    "  --validate         run with the Khronos validation layer (slow; for debugging); the exit\n"    \
    "                     code is 1 if it reported anything\n"                                         \
    "  -v, --verbose      print the device, device memory (weights, KV cache, scratch) and speeds\n"  \
    "                     on stderr\n"                                                                  \
    "  -q, --quiet        no progress, notes or summaries on stderr (errors and warnings remain)\n"   \
    "  --layers N         run only the first N layers (benchmarks; the output is not meaningful)\n"   \
    "  --weights T        store the matrices as T while loading: f16, q8_0, q4_0, q4_k, q4_k_m\n"   \
    "                     (quantized in registers by the kernels; default: as the file stores them,\n" \
    "                     float types as f16)\n"                                                      \
    "  -t, --threads N    host threads converting or quantizing the weights while loading (default:\n" \
    "                     one per processor, at most 16; the model itself runs on the Vulkan device)\n" \
    "  -ngl N             llama.cpp's GPU layers: accepted and ignored, with a note (every layer runs\n" \
    "                     on the Vulkan device)\n"                                                     \
    "Loading shows a progress line when standard error is a terminal.\n"

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
    int quiet;             /* -q: no progress, notes or summaries on stderr */
    int ignored_ngl;       /* -ngl N was given (llama.cpp habit; a note says it is ignored) */
    int threads;           /* -t N: host threads converting the weights while loading; 0: one per
                              processor (eng_model_opts.load_threads) */
    phi3_quant weights;    /* --weights; NONE: as stored */
} cli_model_args;

/* If argv[*i] is one of the shared flags, stores it (consuming its value,
 * *i advanced past it) and returns 1; returns 0 when the argument is not a
 * shared flag; prints a message and returns -1 for a flag without a value or
 * with a bad one, or -q together with -v (a usage error: exit code 2). */
int cli_model_arg(cli_model_args *a, const char *cmd, int argc, char **argv, int *i);

/* Prints the note for the llama.cpp flag that is accepted and ignored
 * (-ngl), unless quiet. */
void cli_ignored_notes(const char *cmd, int ngl, int quiet);

/* The path a model or tokenizer spec names: spec itself when a file or
 * folder of that name exists, else the snapshot folder of the repo id
 * owner/name[@revision] in the Hugging Face cache (found offline; the error
 * says how to fetch it: `phi3vk pull ...`). what names the option in
 * messages ("-m", "--tokenizer"). Prints the error and returns -1. */
int cli_resolve_spec(const char *cmd, const char *what, const char *spec, char *out, size_t len);

/* Where a model and its tokenizer are, from the specs of -m (NULL:
 * $PHI3VK_MODEL) and --tokenizer (NULL: none). */
typedef struct cli_model_paths {
    char model[4096];      /* the folder or file */
    char tokenizer[4096];  /* --tokenizer resolved; without it, for a folder without tokenizer.json that
                              is (a cache snapshot of) a repo shipping no tokenizer, the snapshot of its
                              base model's repo when that is in the cache; else "" */
    char base_repo[256];   /* that base model's repo id when the model needs one ("" otherwise) */
} cli_model_paths;

/* Fills p (see cli_model_paths). With need_tokenizer, a model that has no
 * tokenizer of its own and none found is an error saying what to pass or
 * pull. Prints the error and returns -1. */
int cli_resolve_model(const char *cmd, const char *model_spec, const char *tok_spec, int need_tokenizer,
                      cli_model_paths *p);

/* 1 when an output path is "-": standard output. */
int cli_is_stdout(const char *path);

/* 0 when a command may write its output at path: "-", a path that does not
 * exist, an empty folder, or anything with force. Else prints "PATH
 * exists: pass --force to overwrite it" and returns -1. */
int cli_check_overwrite(const char *cmd, const char *path, int force);

/* The load progress line on a terminal (eng_model_opts.progress; user is
 * the command's name): "phi3vk CMD: loading 2.1 / 7.6 GB (27%)", redrawn in
 * place, ended with a newline when done. */
void cli_load_progress(void *cmd, uint64_t done, uint64_t total);

/* Opens the model named by a->model (or $PHI3VK_MODEL; a path or a repo
 * id, see cli_resolve_model) with the shared options, on a device that passed the self-test (bench/selftest.h; run
 * first when no verdict is cached, unless --no-self-test; a kernel that
 * failed it runs its portable variant, said in one warning line).
 * need_tokenizer: fail, saying how to pass one, when the model has no
 * tokenizer. Prints the error (naming the path and what to do) and returns
 * NULL on failure. */
eng_model *cli_model_open(const char *cmd, const cli_model_args *a, int need_tokenizer);

/* The second half of cli_model_open: loads the model of a onto vk (taken:
 * closed with the model, also on failure). Thread-safe for different vk
 * (several devices load in parallel). Prints the error, returns NULL. */
eng_model *cli_model_load(const char *cmd, const cli_model_args *a, vkr_ctx *vk, int need_tokenizer);

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
 * quiet: 1 (-q) no notes (a CPU device being used, the self-test running);
 * 2 (an internal probe) no warnings either. Prints the error and returns
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
