/* Flags, model lookup and the run shared by classify and eval; see
 * cli/judge_common.h. */
#define _DEFAULT_SOURCE /* realpath */
#include "cli/judge_common.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/judge_devices.h"
#include "hub/hub.h"
#include "judge/shard.h"
#include "judge/stream.h"
#include "formats/mapfile.h"
#include "model/source.h"
#include "tokenizer/tok.h"
#include "vk/vkr.h"
#include "util/time.h"

/* What `phi3vk pull` of the judge downloads (its repo at the time of
 * writing: config, generation config, index and 4 F32 safetensors shards),
 * and the base model's tokenizer files it adds. */
#define JUDGE_DOWNLOAD "about 15.3 GB: 4 F32 safetensors shards"
#define TOKENIZER_DOWNLOAD "about 2 MB"
#define TOKENIZER_FILES "tokenizer.json,tokenizer_config.json,special_tokens_map.json"

void cli_judge_help(const char *head, const char *tail) {
    fputs(head, stdout);
    fputs(CLI_JUDGE_HELP "\n", stdout);
    fputs(CLI_MODEL_HELP, stdout);
    fputs(tail, stdout);
}

/* --keep-cols A,B: splits list (in place) into a->keep. Prints the error. */
static int keep_cols(cli_judge_args *a, const char *cmd, char *list) {
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (a->ds.n_keep == JUDGE_MAX_KEEP) {
            cli_error(cmd, "--keep-cols: at most %d columns", JUDGE_MAX_KEEP);
            return -1;
        }
        if (judge_output_reserved(name)) {
            cli_error(cmd, "--keep-cols: '%s' is a field of the records (id, label, p_toxic, reason, prompt_tokens, ms, "
                           "text_sha256, error, truncated, schema_version): it cannot be copied under that name", name);
            return -1;
        }
        for (int k = 0; k < a->ds.n_keep; k++)
            if (!strcmp(a->keep[k], name)) {
                cli_error(cmd, "--keep-cols: '%s' named twice", name);
                return -1;
            }
        a->keep[a->ds.n_keep++] = name;
    }
    if (a->ds.n_keep == 0) {
        cli_error(cmd, "--keep-cols: expected column names separated by commas");
        return -1;
    }
    a->ds.keep_keys = a->keep;
    return 0;
}

int cli_judge_arg(cli_judge_args *a, const char *cmd, int argc, char **argv, int *i) {
    int r = cli_model_arg(&a->model, cmd, argc, argv, i);
    if (r) return r;
    const char *arg = argv[*i], *v = NULL;
    long long x;
    if (!strcmp(arg, "--reason")) a->reason = 1;
    else if (!strcmp(arg, "--force-resume")) a->force_resume = 1;
    else if (!strcmp(arg, "--no-prefix-cache")) a->no_prefix_cache = 1;
    else if (!strcmp(arg, "--no-download")) a->no_download = 1;
    else if (!strcmp(arg, "--no-header")) a->ds.no_header = 1;
    else if (cli_opt(cmd, argc, argv, i, "-f", &v) || cli_opt(cmd, argc, argv, i, "--file", &v)) {
        if (!v) return -1;
        a->file = v;
    } else if (cli_opt(cmd, argc, argv, i, "--format", &v)) {
        judge_format f;
        if (!v) return -1;
        if (judge_format_parse(v, &f) || f == JUDGE_FORMAT_AUTO) {
            cli_error(cmd, "--format: expected text, tsv, tsv-quoted, csv or jsonl, found '%s'", v);
            return -1;
        }
        a->format = v;
        a->ds.format = f;
    } else if (cli_opt(cmd, argc, argv, i, "--text-col", &v) || cli_opt(cmd, argc, argv, i, "--text-field", &v)) {
        if (!v) return -1;
        a->ds.text_key = v;
    } else if (cli_opt(cmd, argc, argv, i, "--id-col", &v) || cli_opt(cmd, argc, argv, i, "--id-field", &v)) {
        if (!v) return -1;
        a->ds.id_key = v;
    } else if (cli_opt(cmd, argc, argv, i, "--limit", &v)) {
        if (!v || cli_parse_int(cmd, "--limit", v, 1, 1 << 30, &x)) return -1;
        a->limit = (int)x;
    } else if (cli_opt(cmd, argc, argv, i, "--prompt", &v)) {
        if (!v) return -1;
        a->prompt_name = v;
    } else if (cli_opt(cmd, argc, argv, i, "--prompt-file", &v)) {
        if (!v) return -1;
        a->prompt_file = v;
    } else if (cli_opt(cmd, argc, argv, i, "-n", &v) || cli_opt(cmd, argc, argv, i, "--max-tokens", &v)) {
        if (!v || cli_parse_int(cmd, arg, v, 1, 4096, &x)) return -1;
        a->max_new = (int)x;
    } else if (cli_opt(cmd, argc, argv, i, "--too-long", &v)) {
        if (!v) return -1;
        if (judge_too_long_parse(v, &a->too_long)) {
            cli_error(cmd, "--too-long: expected skip, error or truncate, found '%s'", v);
            return -1;
        }
    } else if (cli_opt(cmd, argc, argv, i, "--out", &v)) {
        if (!v) return -1;
        a->out = v;
    } else if (cli_opt(cmd, argc, argv, i, "--batch", &v)) {
        if (!v || cli_parse_int(cmd, "--batch", v, 1, 64, &x)) return -1;
        a->batch = (int)x;
    } else if (cli_opt(cmd, argc, argv, i, "--shard", &v)) {
        judge_shard sh;
        char err[256];
        if (!v) return -1;
        if (judge_shard_parse(v, &sh, err, sizeof err)) {
            cli_error(cmd, "%s", err);
            return -1;
        }
        a->shard = v;
    } else if (cli_opt(cmd, argc, argv, i, "--threshold", &v)) {
        double t;
        if (!v || cli_parse_double(cmd, "--threshold", v, 0, 1, &t)) return -1;
        if (t <= 0) {
            cli_error(cmd, "--threshold: expected a number in (0, 1], found '%s' (every item would be toxic)", v);
            return -1;
        }
        a->threshold = t;
    } else if (cli_opt(cmd, argc, argv, i, "--keep-cols", &v)) {
        if (!v) return -1;
        return keep_cols(a, cmd, argv[*i]) ? -1 : 1;
    } else return 0;
    return 1;
}

int cli_judge_check_args(const char *cmd, const cli_judge_args *a) {
    if (a->prompt_name && a->prompt_file) {
        cli_error(cmd, "--prompt and --prompt-file both given: choose one");
        return -1;
    }
    if (a->prompt_name) {
        char err[512];
        judge_prompt *p = judge_prompt_builtin(a->prompt_name, err, sizeof err);
        judge_prompt_destroy(p);
        if (!p) {
            cli_error(cmd, "--prompt: %s", err);
            return -1;
        }
    }
    if (a->threshold > 0 && a->reason) {
        cli_error(cmd, "--threshold applies to label-only runs: with --reason the label is the model's answer");
        return -1;
    }
    if (a->ds.n_keep && (a->ds.format == JUDGE_FORMAT_TEXT || (!a->file && a->ds.format == JUDGE_FORMAT_AUTO))) {
        cli_error(cmd, "--keep-cols needs columns: plain text (one item per line) has none (use tsv, csv or jsonl)");
        return -1;
    }
    if (a->max_new && !a->reason) {
        cli_error(cmd, "-n/--max-tokens needs --reason (without it nothing is generated)");
        return -1;
    }
    if (a->ds.format == JUDGE_FORMAT_TEXT && (a->ds.text_key || a->ds.id_key)) {
        cli_error(cmd, "--text-col/--id-col do not apply to --format text (one item per line)");
        return -1;
    }
    return 0;
}

judge_dataset *cli_judge_load(const char *cmd, const cli_judge_args *a, const char *label_key) {
    judge_dataset_opts o = a->ds;
    o.label_key = label_key;
    const char *path = a->file ? a->file : "-";
    judge_format f = o.format != JUDGE_FORMAT_AUTO ? o.format : judge_format_guess(path);
    if (f == JUDGE_FORMAT_TEXT && (o.text_key || o.id_key)) {
        cli_error(cmd, "%s is read as plain text (one item per line), which has no columns: pass --format tsv, csv "
                       "or jsonl to use --text-col/--id-col", a->file ? a->file : "standard input");
        return NULL;
    }
    char err[2048];
    judge_dataset *ds = judge_dataset_load(path, &o, err, sizeof err);
    if (!ds) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    if (ds->n_invalid_utf8)
        fprintf(stderr, "phi3vk %s: warning: %d text%s not valid UTF-8 (first at %s:%d); the bytes are kept\n", cmd,
                ds->n_invalid_utf8, ds->n_invalid_utf8 == 1 ? " is" : "s are", ds->source,
                ds->first_invalid_utf8_line);
    return ds;
}

/* ---- finding the model ----------------------------------------------------- */

static int path_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int offline(const cli_judge_args *a) {
    const char *v = getenv("HF_HUB_OFFLINE");
    return a->no_download || (v && *v && strcmp(v, "0") && strcmp(v, "false"));
}

typedef struct dl_view {
    int tty;
    double last;
} dl_view;

/* Download progress on stderr: a line per file, a live total on a terminal. */
static void on_download(void *user, const hub_progress *p) {
    dl_view *v = user;
    char done[32], total[32];
    if (p->event == HUB_EV_FILE_PROGRESS) {
        double now = util_now_s();
        if (!v->tty || now - v->last < 0.2) return;
        v->last = now;
        hub_format_bytes(p->total_done, done, sizeof done);
        hub_format_bytes(p->total_size, total, sizeof total);
        fprintf(stderr, "\r  %s (%d/%d): %s of %s\033[K", p->file, p->file_index + 1, p->n_files, done, total);
        return;
    }
    if (p->event == HUB_EV_FILE_RETRY) {
        fprintf(stderr, "%s  %s: %s; retrying\n", v->tty ? "\r\033[K" : "", p->file, p->message ? p->message : "");
        return;
    }
    if (p->event == HUB_EV_FILE_DONE || p->event == HUB_EV_FILE_CACHED) {
        hub_format_bytes(p->file_size, total, sizeof total);
        fprintf(stderr, "%s  %s (%s)%s\n", v->tty ? "\r\033[K" : "", p->file, total,
                p->event == HUB_EV_FILE_CACHED ? " already cached" : "");
    }
}

/* Downloads repo (only files when not NULL) into the cache like `phi3vk pull`. */
static int download(const char *cmd, const char *repo, const char *const *files, char *err, size_t errlen) {
    dl_view v = {.tty = isatty(2)};
    hub_pull_opts o = {.repo = repo, .include = files, .retries = -1, .progress = on_download, .progress_user = &v};
    hub_pull_result r;
    fprintf(stderr, "phi3vk %s: downloading %s into the Hugging Face cache\n", cmd, repo);
    if (hub_pull(&o, &r, err, errlen)) {
        if (v.tty) fputs("\r\033[K", stderr);
        return -1;
    }
    char got[32];
    hub_format_bytes(r.downloaded_bytes, got, sizeof got);
    fprintf(stderr, "phi3vk %s: %s: %d files, %s downloaded, in %s\n", cmd, repo, r.n_files, got, r.snapshot);
    return 0;
}

/* Finds repo id spec in the cache (downloading it when allowed); writes the
 * snapshot folder to out. what_size says what a pull fetches, for the
 * error. Prints the error. */
static int resolve_repo(const char *cmd, const cli_judge_args *a, const char *spec, const char *const *files,
                        int may_download, const char *fetch_cmd, const char *what_size, char *out, size_t len) {
    char err[2048], derr[1024];
    if (hub_resolve(spec, out, len, err, sizeof err) == 0) return 0;
    if (may_download && !offline(a)) {
        if (download(cmd, spec, files, derr, sizeof derr) == 0 && hub_resolve(spec, out, len, err, sizeof err) == 0)
            return 0;
        cli_error(cmd, "%s is not in the Hugging Face cache and downloading it failed: %s\nfetch it with:\n  %s\n(%s), "
                       "or pass -m MODEL",
                  spec, derr, fetch_cmd, what_size);
        return -1;
    }
    char *advice = strstr(err, "; fetch it with");
    if (advice) *advice = 0; /* hub's own advice does not know the size: ours follows */
    cli_error(cmd, "%s\nfetch it with:\n  %s\n(%s)%s", err, fetch_cmd, what_size,
              may_download ? ", or pass -m MODEL" : "");
    return -1;
}

int cli_judge_resolve_model(const char *cmd, const cli_judge_args *a, cli_model_args *m, char *mpath, char *tpath,
                            size_t len, char *label, size_t label_len) {
    *m = a->model;
    const char *spec = a->model.model;
    if (!spec || !*spec) spec = getenv("PHI3VK_MODEL");
    int is_default = !spec || !*spec;
    if (is_default) spec = CLI_JUDGE_MODEL;
    if (a->model.tokenizer) { /* a path or a repo id */
        if (cli_resolve_spec(cmd, "--tokenizer", a->model.tokenizer, tpath, len)) return -1;
        m->tokenizer = tpath;
    }
    if (!is_default && path_exists(spec)) {
        snprintf(mpath, len, "%s", spec);
        m->model = mpath;
        char real[4096];
        snprintf(label, label_len, "%s", realpath(spec, real) ? real : spec);
        cli_model_paths p; /* a cache snapshot of the judge: its base model's tokenizer */
        if (!a->model.tokenizer && !cli_resolve_model(cmd, spec, NULL, 0, &p) && p.tokenizer[0]) {
            snprintf(tpath, len, "%s", p.tokenizer);
            m->tokenizer = tpath;
        }
        return 0;
    }
    hub_repo_id id;
    char err[1024], fetch[512];
    if (hub_parse_repo_id(spec, &id, err, sizeof err)) {
        cli_error(cmd, "%s: no such file or folder, and not a Hugging Face repo id (owner/name[@revision]): %s", spec,
                  err);
        return -1;
    }
    snprintf(fetch, sizeof fetch, "phi3vk pull %s", spec);
    const char *tok_repo = a->model.tokenizer ? NULL : hub_default_tokenizer_repo(spec);
    char size[256];
    if (tok_repo)
        snprintf(size, sizeof size, "%s; it also fetches the tokenizer of %s, %s, which the judge ships without",
                 !strcmp(id.owner, "grounded-ai") ? JUDGE_DOWNLOAD : "size unknown offline", tok_repo,
                 TOKENIZER_DOWNLOAD);
    else
        snprintf(size, sizeof size, "download size unknown offline");
    if (resolve_repo(cmd, a, spec, NULL, is_default, fetch, size, mpath, len)) return -1;
    m->model = mpath;
    const char *commit = strrchr(mpath, '/'); /* the snapshot folder is named by the commit */
    snprintf(label, label_len, "%.96s/%.96s@%.200s", id.owner, id.name, commit ? commit + 1 : mpath);
    if (tok_repo) {
        static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                            NULL};
        snprintf(fetch, sizeof fetch, "phi3vk pull %s --include %s", tok_repo, TOKENIZER_FILES);
        snprintf(size, sizeof size, "%s; the model %s ships no tokenizer and uses its base model's; or pass "
                                    "--tokenizer PATH",
                 TOKENIZER_DOWNLOAD, spec);
        if (resolve_repo(cmd, a, tok_repo, files, is_default, fetch, size, tpath, len)) return -1;
        m->tokenizer = tpath;
    }
    return 0;
}

/* ---- the run ----------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
    stop_flag = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C ends the process at once */
}

/* The plan request of a run: n_ctx = --ctx, else the longest prompt of the
 * items still to run plus the answer tokens (and --max-tokens with
 * --reason), rounded up to 64 and capped at the model's context; n_seq =
 * --batch, else the engine's choice (eng_plan_make) for this work: decoding
 * with --reason, at most the items to run. */
static void size_context(const cli_judge_args *a, const cli_judge_session *s, const judge_dataset *ds, const int *idx,
                         int n, int todo, eng_plan_request *o) {
    const phi3_config *cfg = eng_model_config(s->m);
    int cap = cfg->max_pos;
    if (a->model.n_ctx || !ds) { /* items that arrive one by one (!ds): the model's context, or --ctx */
        o->n_ctx = a->model.n_ctx;
    } else {
        tok_ids ids = {0};
        char err[256];
        int longest = 0;
        for (int i = 0; i < n; i++) {
            const judge_item *it = &ds->items[idx[i]];
            if (judge_run_is_done(s->out, it)) continue;
            ids.n = 0;
            if (judge_prompt_encode(eng_model_tokenizer(s->m), s->prompt, a->model.no_bos, it->text, it->text_len,
                                    &ids, err, sizeof err) == 0 && (int)ids.n > longest)
                longest = (int)ids.n;
        }
        tok_ids_free(&ids);
        int need = longest + JUDGE_MAX_SHARED + (a->reason ? (a->max_new ? a->max_new : s->prompt->max_new_reason) : 0);
        need = (need + 63) / 64 * 64;
        o->n_ctx = need < cap ? need : cap;
    }
    o->n_seq = a->batch;
    o->max_seq = ds ? todo : 0;
    o->decoding = a->reason;
}

/* The device a run would use, its device profile, and the kernels its
 * self-test verdict runs in their portable variant (the self-test runs here
 * when no verdict is cached, as the model's opening would run it). */
int cli_judge_provenance_device(const char *cmd, const cli_model_args *m, judge_provenance *p) {
    char ver[64];
    vkr_ctx *vk = cli_vk_open(cmd, m->device, m->device_profile, 0, 0, m->no_self_test, 2);
    if (!vk) return -1;
    const vkr_device_info *d = vkr_ctx_device(vk);
    const vkr_device_profile *dp = vkr_ctx_profile(vk);
    vkr_driver_version_str(d, ver, sizeof ver);
    snprintf(p->device, sizeof p->device, "%s", d->name);
    snprintf(p->driver, sizeof p->driver, "%.60s %.60s", d->driver_name, ver);
    snprintf(p->vendor, sizeof p->vendor, "%.16s 0x%04x", d->vendor, d->vendor_id);
    snprintf(p->device_profile, sizeof p->device_profile, "%s", dp->name);
    p->n_kernel_fallbacks = 0;
    for (int i = 0; i < VKR_KERNEL_FAMILIES && p->n_kernel_fallbacks < JUDGE_PROV_MAX_FALLBACKS; i++)
        if (dp->fallbacks & (1u << i))
            snprintf(p->kernel_fallbacks[p->n_kernel_fallbacks++], sizeof p->kernel_fallbacks[0], "%s",
                     vkr_kernel_names[i]);
    vkr_ctx_destroy(vk);
    return 0;
}

/* The tokenizer a run uses, for provenance: --tokenizer (a file, or a folder
 * holding tokenizer.json), else the model's (its tokenizer.json, or the GGUF
 * itself, whose header hash is the weights'). */
static int provenance_tokenizer(const char *cmd, const cli_model_args *m, const phi3_source *src, judge_provenance *p) {
    char path[4200], real[4096], err[1024];
    const char *t = m->tokenizer;
    if (!t && phi3_source_gguf(src)) {
        snprintf(p->tokenizer, sizeof p->tokenizer, "%.1000s", p->model);
        snprintf(p->tokenizer_sha256, sizeof p->tokenizer_sha256, "%s", p->weights_sha256);
        return 0;
    }
    if (!t) t = phi3_source_dir(src);
    if (fmt_is_dir(t)) snprintf(path, sizeof path, "%s/tokenizer.json", t);
    else snprintf(path, sizeof path, "%s", t);
    snprintf(p->tokenizer, sizeof p->tokenizer, "%.1000s", realpath(path, real) ? real : path);
    if (judge_provenance_hash_file(path, 1, p->tokenizer_sha256, err, sizeof err)) {
        cli_error(cmd, "tokenizer: %s", err);
        return -1;
    }
    return 0;
}

/* Everything the results of this run depend on (judge/provenance.h). */
static int make_provenance(const char *cmd, const cli_judge_args *a, const cli_model_args *m, const char *model_label,
                           const judge_prompt *prompt, judge_provenance *p) {
    char err[2048];
    memset(p, 0, sizeof *p);
    snprintf(p->phi3vk_version, sizeof p->phi3vk_version, "%s", PHI3VK_VERSION);
    snprintf(p->model, sizeof p->model, "%.1000s", model_label);
    phi3_source *src = phi3_source_open(m->model, err, sizeof err);
    if (!src) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    int rc = judge_provenance_hash_model(src, p->weights_sha256, p->weight_type, err, sizeof err);
    if (rc) cli_error(cmd, "%s", err);
    else rc = provenance_tokenizer(cmd, m, src, p);
    phi3_source_close(src);
    if (rc) return -1;
    snprintf(p->prompt, sizeof p->prompt, "%s", prompt->name);
    judge_sha256_hex(prompt->text, prompt->len, p->prompt_sha256);
    snprintf(p->mode, sizeof p->mode, "%s", a->reason ? "reason" : "labels");
    p->max_new_tokens = a->reason ? (a->max_new ? a->max_new : prompt->max_new_reason) : 0;
    p->threshold = a->threshold > 0 ? a->threshold : JUDGE_DEFAULT_THRESHOLD;
    snprintf(p->too_long, sizeof p->too_long, "%s", judge_too_long_name(a->too_long));
    snprintf(p->shard, sizeof p->shard, "%s", a->shard ? a->shard : "1/1");
    p->no_bos = a->model.no_bos;
    return cli_judge_devices_provenance(cmd, m, p);
}

/* Compares the --out file's provenance with this run's and records this
 * run's there. Prints the error. */
static int check_provenance(const char *cmd, const cli_judge_args *a, cli_judge_session *s) {
    char err[4096], diff[3000];
    const judge_provenance *fp = judge_results_provenance(s->out);
    int n_results = judge_results_count(s->out);
    if (!fp && n_results > 0) {
        if (!a->force_resume) {
            cli_error(cmd, "%s holds %d result%s but no record of the model, prompt, ... that made them (an older "
                           "phi3vk wrote it): use another --out file, or --force-resume to add to it anyway",
                      a->out, n_results, n_results == 1 ? "" : "s");
            return -1;
        }
        fprintf(stderr, "phi3vk %s: warning: --force-resume: %s has no provenance; adding to it anyway\n", cmd, a->out);
    } else if (fp && judge_provenance_diff(fp, &s->prov, diff, sizeof diff) > 0) {
        if (!a->force_resume) {
            cli_error(cmd, "%s holds results of another setup: %s; use another --out file, or --force-resume to add "
                           "to it anyway", a->out, diff);
            return -1;
        }
        fprintf(stderr, "phi3vk %s: warning: --force-resume: %s holds results of another setup (%s); adding to it "
                        "anyway\n", cmd, a->out, diff);
    }
    if (judge_results_set_provenance(s->out, &s->prov, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}

/* 1 when paths a and b name the same file. */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int cli_judge_open(const char *cmd, const cli_judge_args *a, const judge_dataset *ds, const int *idx, int n,
                   cli_judge_session *s) {
    char err[2048];
    s->prompt = a->prompt_file ? judge_prompt_from_file(a->prompt_file, err, sizeof err)
                               : judge_prompt_builtin(a->prompt_name, err, sizeof err);
    if (!s->prompt) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    if (a->reason && s->prompt->asks_reason == 0 && !a->model.quiet)
        fprintf(stderr, "phi3vk %s: note: the prompt '%s' asks for the label only; --reason generates what the "
                        "model adds anyway\n", cmd, s->prompt->name);
    if (a->out && a->file && strcmp(a->file, "-") && same_file(a->out, a->file)) {
        cli_error(cmd, "--out %s is the input file (-f %s): the results would be appended to the items; choose "
                       "another output file", a->out, a->file);
        return -1;
    }
    if (a->out && !(s->out = judge_results_open(a->out, err, sizeof err))) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    if (s->out && judge_results_dropped_bytes(s->out))
        fprintf(stderr, "phi3vk %s: %s: removed a torn last line (%zu bytes) left by an interrupted run\n", cmd,
                a->out, judge_results_dropped_bytes(s->out));
    static char mpath[4096], tpath[4096];
    char model_label[4200];
    cli_model_args m;
    if (cli_judge_resolve_model(cmd, a, &m, mpath, tpath, sizeof mpath, model_label, sizeof model_label)) return -1;
    /* provenance is what an --out file records; a run without one has nothing to compare */
    if (s->out && (make_provenance(cmd, a, &m, model_label, s->prompt, &s->prov) || check_provenance(cmd, a, s))) return -1;
    int todo = 0;
    for (int i = 0; i < n; i++) todo += !judge_run_is_done(s->out, &ds->items[idx[i]]);
    if (todo == 0 && ds) return 0; /* everything is in --out already: the model is not loaded */
    snprintf(s->model_path, sizeof s->model_path, "%s", m.model);
    if (cli_judge_devices_parse(cmd, &m, s) || cli_judge_devices_open_models(cmd, &m, s)) return -1;
    snprintf(s->model_desc, sizeof s->model_desc, "%s%s%s", m.model, m.tokenizer ? ", tokenizer " : "",
             m.tokenizer ? m.tokenizer : "");
    if (a->model.verbose) fprintf(stderr, "phi3vk %s: model %s\n", cmd, s->model_desc);
    if (!s->m && !(s->m = cli_model_open(cmd, &m, 1))) return -1;
    eng_plan_request co_ctx = {0};
    size_context(a, s, ds, idx, n, todo, &co_ctx);
    if (!(s->c = cli_ctx_create(cmd, s->m, &m, &co_ctx))) return -1;
    if (a->model.verbose)
        fprintf(stderr, "phi3vk %s: context: %d sequence%s (items per engine pass) x %d tokens\n", cmd,
                eng_ctx_n_seq(s->c), eng_ctx_n_seq(s->c) == 1 ? "" : "s", eng_ctx_n_ctx(s->c));
    judge_classifier_opts co = {
        .reason = a->reason,
        .max_new = a->max_new,
        .no_prefix_cache = a->no_prefix_cache,
        .no_bos = a->model.no_bos,
        .too_long = a->too_long,
        .threshold = a->threshold,
    };
    if (!(s->cl = judge_classifier_create(s->m, s->c, s->prompt, &co, err, sizeof err))) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return cli_judge_devices_start(cmd, &m, &co_ctx, &co, s);
}

int cli_judge_run(const char *cmd, const cli_judge_args *a, cli_judge_session *s, const judge_dataset *ds,
                  const int *idx, int n, FILE *jsonl, FILE *table, judge_output *records,
                  judge_run_result *results) {
    judge_classify_fn fn;
    void *user;
    int batch;
    cli_judge_devices_fn(s, &fn, &user, &batch);
    judge_run_opts o = {
        .batch = batch,
        .out = s->out,
        .jsonl = jsonl,
        .table = table,
        .progress = isatty(2) && !s->stream && !a->model.quiet ? stderr : NULL,
        .stop = &stop_flag,
        .records = records,
    };
    judge_progress prog;
    char err[2048];
    stop_flag = 0;
    void (*old_int)(int) = signal(SIGINT, on_signal);
    void (*old_term)(int) = signal(SIGTERM, on_signal);
    int rc = s->stream ? judge_stream_run(s->stream, fn, user, &o, &prog, err, sizeof err)
                       : judge_run(ds, idx, n, fn, user, &o, results, &prog, err, sizeof err);
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    char line[256];
    judge_summary_format(&prog, util_now_s(), line, sizeof line);
    if (rc < 0) cli_error(cmd, "%s", err);
    if (!a->model.quiet) fprintf(stderr, "%s\n", line);
    if (a->model.verbose && s->cl) {
        judge_classifier_stats st = judge_classifier_get_stats(s->cl);
        fprintf(stderr, "phi3vk %s: %lld prompt tokens, %lld computed, %lld reused from the KV cache; %lld decode "
                        "steps\n", cmd, st.prompt_tokens, st.eval_tokens, st.reused_tokens, st.decode_steps);
        cli_judge_devices_report(cmd, s);
    }
    if (rc == 1)
        fprintf(stderr, "phi3vk %s: stopped after %d of %d items%s\n", cmd, prog.done, prog.total,
                s->out ? "; run the same command again to resume" : " (with --out FILE a rerun resumes)");
    else if (rc < 0 && s->out && prog.done > 0) /* a lost device, a full disk: the finished items are safe */
        fprintf(stderr, "phi3vk %s: the %d items finished before the error are in %s; run the same command again "
                        "to resume\n", cmd, prog.done, a->out);
    if (rc == 0 && prog.errors)
        fprintf(stderr, "phi3vk %s: %d item%s not classified: the prompt does not fit the context (--too-long skip; "
                        "%s)\n", cmd, prog.errors, prog.errors == 1 ? " was" : "s were",
                s->out ? "each is recorded with \"label\":\"error\" and the reason" : "see the table or --jsonl");
    return rc == 0 && prog.errors ? 3 : rc;
}

int cli_judge_close(cli_judge_session *s) {
    char err[1024];
    int rc = 0;
    if (judge_results_close(s->out, err, sizeof err)) {
        fprintf(stderr, "phi3vk: %s\n", err);
        rc = 1;
    }
    if (cli_judge_devices_close(s)) rc = 1;
    judge_stream_close(s->stream);
    judge_classifier_destroy(s->cl);
    if (cli_model_close(s->m, s->c)) rc = 1;
    judge_prompt_destroy(s->prompt);
    *s = (cli_judge_session){0};
    return rc;
}
