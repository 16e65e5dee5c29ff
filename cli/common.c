/* Shared flags, model opening and memory report of the model-running
 * commands (see cli/common.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "cli/common.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/selftest.h"
#include "cli/cli.h"
#include "formats/mapfile.h"
#include "hub/hub.h"
#include "tokenizer/tok.h"

#define MIB (1024.0 * 1024.0)
#define MAX_TEXT_BYTES ((size_t)1 << 30) /* prompt and perplexity files: 1 GiB */


int cli_parse_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cli_error(cmd, "%s: expected an integer in [%lld, %lld], found '%s'", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        cli_error(cmd, "%s: expected a number in [%g, %g], found '%s'", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *opt, const char **val) {
    if (strcmp(argv[*i], opt)) return 0;
    if (*i + 1 >= argc) {
        cli_error(cmd, "%s needs a value (see --help)", opt);
        *val = NULL;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_check_device_profile(const char *cmd, const char *name) {
    if (!strcmp(name, "auto")) return 0;
    for (int i = 0; vkr_device_profile_names[i]; i++)
        if (!strcmp(name, vkr_device_profile_names[i])) return 0;
    cli_error(cmd, "--device-profile: expected auto, cpu, nvidia, amd, intel or gpu, found '%s'", name);
    return -1;
}

int cli_model_arg(cli_model_args *a, const char *cmd, int argc, char **argv, int *i) {
    const char *arg = argv[*i], *v = NULL;
    long long x;
    if (!strcmp(arg, "--validate")) a->validate = 1;
    else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose") || !strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
        int q = arg[1] == 'q' || !strcmp(arg, "--quiet");
        if (q ? a->verbose : a->quiet) {
            cli_error(cmd, "-q/--quiet and -v/--verbose both given: choose one");
            return -1;
        }
        if (q) a->quiet = 1;
        else a->verbose = 1;
    } else if (!strcmp(arg, "--no-bos")) a->no_bos = 1;
    else if (cli_opt(cmd, argc, argv, i, "-ngl", &v) || cli_opt(cmd, argc, argv, i, "--n-gpu-layers", &v) ||
             cli_opt(cmd, argc, argv, i, "--gpu-layers", &v)) {
        if (!v || cli_parse_int(cmd, arg, v, -1, 1 << 20, &x)) return -1;
        a->ignored_ngl = 1;
    } else if (cli_opt(cmd, argc, argv, i, "-t", &v) || cli_opt(cmd, argc, argv, i, "--threads", &v)) {
        if (!v || cli_parse_int(cmd, arg, v, -1, 1 << 16, &x)) return -1;
        a->threads = x > 0 ? (int)x : 0; /* llama.cpp's -t -1: the default */
    }
    else if (cli_opt(cmd, argc, argv, i, "-m", &v) || cli_opt(cmd, argc, argv, i, "--model", &v)) {
        if (!v) return -1;
        a->model = v;
    } else if (cli_opt(cmd, argc, argv, i, "--tokenizer", &v)) {
        if (!v) return -1;
        a->tokenizer = v;
    } else if (cli_opt(cmd, argc, argv, i, "--device", &v)) {
        if (!v) return -1;
        a->device = v;
    } else if (cli_opt(cmd, argc, argv, i, "--device-profile", &v)) {
        if (!v || cli_check_device_profile(cmd, v)) return -1;
        a->device_profile = v;
    } else if (!strcmp(arg, "--no-self-test")) {
        a->no_self_test = 1;
    } else if (cli_opt(cmd, argc, argv, i, "--ctx", &v) || cli_opt(cmd, argc, argv, i, "-c", &v)) {
        if (!v || cli_parse_int(cmd, "--ctx", v, 1, 1 << 24, &x)) return -1;
        a->n_ctx = (int)x;
    } else if (cli_opt(cmd, argc, argv, i, "--layers", &v)) {
        if (!v || cli_parse_int(cmd, "--layers", v, 1, 100000, &x)) return -1;
        a->layers = (int)x;
    } else if (cli_opt(cmd, argc, argv, i, "--weights", &v)) {
        if (!v) return -1;
        if (phi3_quant_parse(v, &a->weights)) {
            cli_error(cmd, "--weights: expected f16, q8_0, q4_0, q4_k or q4_k_m, found '%s'", v);
            return -1;
        }
    } else return 0;
    return 1;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int path_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int cli_is_stdout(const char *path) { return path && !strcmp(path, "-"); }

int cli_check_overwrite(const char *cmd, const char *path, int force) {
    if (force || cli_is_stdout(path) || !path_exists(path)) return 0;
    if (is_dir(path)) {
        DIR *d = opendir(path);
        struct dirent *e;
        int empty = 1;
        while (d && empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
        if (d) closedir(d);
        if (empty) return 0;
    }
    cli_error(cmd, "%s exists%s: pass --force to overwrite it", path, is_dir(path) ? " (a folder that is not empty)" : "");
    return -1;
}

void cli_ignored_notes(const char *cmd, int ngl, int quiet) {
    if (quiet) return;
    if (ngl)
        fprintf(stderr, "phi3vk %s: note: -ngl (GPU layers) is accepted for llama.cpp habits and ignored: every layer "
                        "runs on the Vulkan device\n", cmd);
}

int cli_resolve_spec(const char *cmd, const char *what, const char *spec, char *out, size_t len) {
    if (path_exists(spec)) {
        if (snprintf(out, len, "%s", spec) >= (int)len) {
            cli_error(cmd, "%s %.200s...: path too long", what, spec);
            return -1;
        }
        return 0;
    }
    hub_repo_id id;
    char err[2048];
    if (hub_parse_repo_id(spec, &id, err, sizeof err)) {
        int looks_like_path = spec[0] == '/' || spec[0] == '.' || spec[0] == '~' || !strchr(spec, '/');
        if (looks_like_path) cli_error(cmd, "%s %s: no such file or folder", what, spec);
        else cli_error(cmd, "%s %s: no such file or folder (nor a Hugging Face repo id owner/name[@revision]: %s)",
                       what, spec, err);
        return -1;
    }
    if (hub_resolve(spec, out, len, err, sizeof err)) {
        cli_error(cmd, "%s %s: no such file or folder, and as a Hugging Face repo id: %s", what, spec, err);
        return -1;
    }
    return 0;
}

/* The repo id behind a model spec: the spec itself when it is one (and no
 * path of that name exists), else the repo of a cache snapshot path. */
static int spec_repo(const char *spec, const char *path, char *out, size_t len) {
    hub_repo_id id;
    if (strcmp(spec, path) && !hub_parse_repo_id(spec, &id, NULL, 0))
        return snprintf(out, len, "%s/%s", id.owner, id.name) < (int)len ? 0 : -1;
    char real[4096];
    if (!hub_repo_of_snapshot(path, out, len)) return 0;
    return realpath(path, real) ? hub_repo_of_snapshot(real, out, len) : -1;
}

int cli_resolve_model(const char *cmd, const char *model_spec, const char *tok_spec, int need_tokenizer,
                      cli_model_paths *p) {
    memset(p, 0, sizeof *p);
    const char *spec = model_spec && *model_spec ? model_spec : getenv("PHI3VK_MODEL");
    if (!spec || !*spec) {
        cli_error(cmd, "no model: pass -m MODEL (a Hugging Face folder, a .gguf file or a repo id owner/name) or set "
                       "PHI3VK_MODEL");
        return -1;
    }
    if (cli_resolve_spec(cmd, "-m", spec, p->model, sizeof p->model)) return -1;
    if (tok_spec && *tok_spec) return cli_resolve_spec(cmd, "--tokenizer", tok_spec, p->tokenizer, sizeof p->tokenizer);
    char tp[4200], repo[256];
    snprintf(tp, sizeof tp, "%s/tokenizer.json", p->model);
    if (!is_dir(p->model) || path_exists(tp)) return 0; /* a GGUF is only known after parsing it */
    const char *base = spec_repo(spec, p->model, repo, sizeof repo) ? NULL : hub_default_tokenizer_repo(repo);
    char err[2048];
    if (base) {
        snprintf(p->base_repo, sizeof p->base_repo, "%s", base);
        if (hub_resolve(base, p->tokenizer, sizeof p->tokenizer, err, sizeof err) == 0) return 0;
        p->tokenizer[0] = 0;
    }
    if (!need_tokenizer) return 0;
    if (base)
        cli_error(cmd, "%s: the model ships no tokenizer and uses that of its base model %s, which is not in the "
                       "Hugging Face cache: fetch it with `phi3vk pull %s --include tokenizer.json,"
                       "tokenizer_config.json,special_tokens_map.json`, or pass --tokenizer PATH", p->model, base, base);
    else
        cli_error(cmd, "%s: the model has no tokenizer (no tokenizer.json in the folder): pass --tokenizer PATH "
                       "(a tokenizer.json, a folder with one, or a repo id)", p->model);
    return -1;
}

void cli_load_progress(void *cmd, uint64_t done, uint64_t total) {
    fprintf(stderr, "\r\033[Kphi3vk %s: loading the weights: %.2f / %.2f GB (%.0f%%)%s", (const char *)cmd, done / 1e9,
            total / 1e9, total ? 100.0 * (double)done / (double)total : 100.0, done >= total ? "\n" : "");
}

static eng_model *load_resolved(const char *cmd, const cli_model_args *a, vkr_ctx *vk, int need_tokenizer,
                                const cli_model_paths *p);

eng_model *cli_model_open(const char *cmd, const cli_model_args *a, int need_tokenizer) {
    static cli_model_paths paths; /* one model per command */
    if (cli_resolve_model(cmd, a->model, a->tokenizer, need_tokenizer, &paths)) return NULL;
    cli_ignored_notes(cmd, a->ignored_ngl, a->quiet);
    vkr_ctx *vk = cli_vk_open(cmd, a->device, a->device_profile, a->validate, a->verbose, a->no_self_test, a->quiet);
    if (!vk) return NULL;
    return load_resolved(cmd, a, vk, need_tokenizer, &paths);
}

eng_model *cli_model_load(const char *cmd, const cli_model_args *a, vkr_ctx *vk, int need_tokenizer) {
    cli_model_paths *paths = malloc(sizeof *paths); /* 8 KB: off the stack of a loading thread */
    if (!paths || cli_resolve_model(cmd, a->model, a->tokenizer, need_tokenizer, paths)) {
        if (!paths) cli_error(cmd, "out of memory");
        free(paths);
        vkr_ctx_destroy(vk);
        return NULL;
    }
    eng_model *m = load_resolved(cmd, a, vk, need_tokenizer, paths);
    free(paths);
    return m;
}

/* Loads the model of the resolved paths p onto vk (taken). */
static eng_model *load_resolved(const char *cmd, const cli_model_args *a, vkr_ctx *vk, int need_tokenizer,
                                const cli_model_paths *p) {
    eng_model_opts o = {
        .vk = vk,
        .take_vk = 1,
        .verbose = a->verbose,
        .tokenizer = p->tokenizer[0] ? p->tokenizer : NULL,
        .max_layers = a->layers,
        .progress = isatty(2) && !a->quiet ? cli_load_progress : NULL,
        .progress_user = (void *)cmd,
        .weights = a->weights,
        .load_threads = a->threads,
    };
    char err[2048];
    eng_model *m = eng_model_open(p->model, &o, err, sizeof err);
    if (!m) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    if (need_tokenizer && !eng_model_tokenizer(m)) {
        cli_error(cmd, "%s: the model has no tokenizer (no tokenizer.ggml.* in the GGUF): pass --tokenizer PATH "
                       "(a tokenizer.json, a folder with one, or a repo id)", p->model);
        eng_model_close(m);
        return NULL;
    }
    return m;
}

static void note_self_test(void *cmd, const vkr_ctx *vk) {
    fprintf(stderr, "phi3vk %s: first use of %s with this driver and build: running the kernel self-test\n",
            (const char *)cmd, vkr_ctx_device(vk)->name);
}

vkr_ctx *cli_vk_open(const char *cmd, const char *device, const char *device_profile, int validate, int verbose,
                     int no_self_test, int quiet) {
    char err[2048];
    if (!device_profile || !*device_profile) device_profile = getenv("PHI3VK_DEVICE_PROFILE");
    vkr_ctx_opts vo = {.device = device, .validate = validate, .verbose = verbose, .device_profile = device_profile};
    eng_selftest_result r;
    int note = (verbose || isatty(2)) && !quiet;
    vo.quiet = quiet > 0;
    vkr_ctx *vk = eng_device_open(&vo, no_self_test, &r, note ? note_self_test : NULL, (void *)cmd, err, sizeof err);
    if (!vk) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    if (r.fallbacks && quiet < 2) {
        char names[128];
        eng_selftest_names(r.fallbacks, names, sizeof names);
        fprintf(stderr, "phi3vk %s: warning: on %s the %s kernel%s failed the self-test (%s); using the portable "
                        "variant (slower). `phi3vk devices --check` re-tests.\n",
                cmd, vkr_ctx_device(vk)->name, names, strchr(names, ',') ? "s" : "", r.detail);
    } else if (verbose && r.runs) {
        fprintf(stderr, "phi3vk %s: self-test passed (%d run, %.0f ms)\n", cmd, r.runs, r.ms);
    }
    return vk;
}

eng_ctx *cli_ctx_create(const char *cmd, eng_model *m, const cli_model_args *a, const eng_plan_request *r) {
    char err[2048];
    eng_plan plan;
    eng_ctx *c = eng_plan_make(m, r, &plan, err, sizeof err) ? NULL : eng_ctx_create(m, &plan, err, sizeof err);
    if (!c) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    if (a->verbose) {
        /* The KV cache is fp16 K and V per layer and sequence: 2 x layers x
         * n_seq x n_ctx x kv_heads x head_dim x 2 bytes; the rest of the
         * context is scratch (activations, logits, RoPE table). */
        const phi3_config *cfg = eng_model_config(m);
        double w = (double)eng_model_weight_bytes(m);
        double kv = 4.0 * cfg->n_layers * eng_ctx_n_seq(c) * eng_ctx_n_ctx(c) * cfg->n_kv_heads * cfg->head_dim;
        double ctx = (double)eng_ctx_device_bytes(c), total = (double)vkr_ctx_allocated(eng_model_vk(m));
        fprintf(stderr, "phi3vk: device memory: weights %.1f MiB (%s, %.3f bytes per weight) + KV cache %.1f MiB "
                        "(%d x %d tokens) + scratch %.1f MiB = %.1f MiB (%.1f MiB allocated from the driver)\n",
                w / MIB, eng_model_weight_types(m), eng_model_bytes_per_weight(m), kv / MIB, eng_ctx_n_seq(c),
                eng_ctx_n_ctx(c), (ctx - kv) / MIB, (w + ctx) / MIB, total / MIB);
    }
    return c;
}

int cli_model_close(eng_model *m, eng_ctx *c) {
    int n = m ? vkr_ctx_validation_messages(eng_model_vk(m)) : 0;
    eng_ctx_destroy(c);
    eng_model_close(m);
    if (n > 0) fprintf(stderr, "phi3vk: the Vulkan validation layer reported %d message%s\n", n, n == 1 ? "" : "s");
    return n > 0;
}

char *cli_read_text(const char *cmd, const char *path, size_t *len) {
    char err[1024];
    if (strcmp(path, "-")) {
        char *buf = fmt_read_file(path, MAX_TEXT_BYTES, len, err, sizeof err);
        if (!buf) cli_error(cmd, "%s", err);
        return buf;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap) break;
        char *p = cap < MAX_TEXT_BYTES ? realloc(buf, cap * 2 + 1) : NULL;
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    if (!buf || ferror(stdin)) {
        cli_error(cmd, "standard input: %s", buf ? "read error" : "out of memory or more than 1 GiB");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int cli_encode_prompt(const char *cmd, const eng_model *m, const cli_model_args *a, const char *text, size_t len,
                      int chat, const char *system, struct tok_ids *out) {
    const tok_tokenizer *t = eng_model_tokenizer(m);
    char err[1024];
    int rc;
    if (chat) {
        if (memchr(text, 0, len)) {
            cli_error(cmd, "the prompt contains a NUL byte, which a chat message cannot hold");
            return -1;
        }
        tok_chat_msg msgs[2] = {{"system", system}, {"user", text}};
        unsigned f = a->no_bos ? TOK_CHAT_NO_BOS : 0;
        rc = system ? tok_chat_encode(t, msgs, 2, f, out, err, sizeof err)
                    : tok_chat_encode(t, msgs + 1, 1, f, out, err, sizeof err);
    } else {
        rc = tok_encode(t, text, len, a->no_bos ? 0 : TOK_ENCODE_BOS, out, err, sizeof err);
    }
    if (rc) cli_error(cmd, "%s", err);
    return rc;
}

int cli_parse_ids(const char *cmd, const char *s, tok_ids *out) {
    const char *p = s;
    for (int item = 1;; item++) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (!*p) return 0;
        const char *start = p;
        size_t n = strcspn(p, ", \t\n");
        int ok = n > 0 && n <= 10;
        long long x = 0;
        for (size_t k = 0; ok && k < n; k++) {
            ok = p[k] >= '0' && p[k] <= '9';
            x = x * 10 + (p[k] - '0');
        }
        if (!ok || x > INT32_MAX) {
            cli_error(cmd, "token list item %d '%.*s' is not a token id (expected non-negative integers separated "
                           "by commas, e.g. 1,15043,3186)", item, (int)(n > 40 ? 40 : n), start);
            return -1;
        }
        if (tok_ids_push(out, (int32_t)x)) {
            cli_error(cmd, "out of memory");
            return -1;
        }
        p += n;
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (*p == ',') {
            p++;
            while (*p == ' ' || *p == '\t' || *p == '\n') p++;
            if (!*p || *p == ',') {
                cli_error(cmd, "token list item %d is empty (expected non-negative integers separated by commas)",
                          item + 1);
                return -1;
            }
        }
    }
}
