/* phi3vk pull: download a Hugging Face model repo into the shared HF cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "hub/hub.h"
#include "util/time.h"

#define MAX_PATTERNS 64

static void help(FILE *f) {
    fprintf(f,
            "usage: phi3vk pull REPO[@REV] [options]\n"
            "\n"
            "Downloads a model from the Hugging Face Hub into the Hugging Face cache (the\n"
            "layout huggingface-cli and transformers use, so files are shared with them),\n"
            "then prints the snapshot folder on stdout. REPO is owner/name, e.g.\n"
            "grounded-ai/phi3-toxicity-judge-merge. Files already in the cache are not\n"
            "downloaded again; an interrupted download resumes where it stopped; LFS\n"
            "files are checked against the sha256 the Hub reports.\n"
            "\n"
            "options:\n"
            "  --revision R       branch, tag or commit sha (default: REV from REPO@REV, else main)\n"
            "  --include PATS     comma-separated glob patterns of files to fetch ('*' matches\n"
            "                     '/' too); may be repeated. Default: config.json,\n"
            "                     generation_config.json, *.safetensors,\n"
            "                     model.safetensors.index.json, tokenizer.json,\n"
            "                     tokenizer_config.json, special_tokens_map.json\n"
            "  --cache-dir DIR    cache root (default: $HF_HUB_CACHE, else $HF_HOME/hub,\n"
            "                     else ~/.cache/huggingface/hub)\n"
            "  --endpoint URL     Hub base URL (default: $HF_ENDPOINT, else https://huggingface.co)\n"
            "  --retries N        resumed re-tries per file when a transfer breaks (default 3)\n"
            "  --timeout S        seconds to connect, or of less than 1 kB/s, before giving up (default 30)\n"
            "  --deadline S       the whole pull ends within S seconds, whatever the server does\n"
            "                     (default 86400: a day); an interrupted file resumes on the next run\n"
            "  --max-file-size N  refuse a file listed larger than N bytes, and cut off one the Hub\n"
            "                     gives no size for at N (suffixes k, M, G, T: powers of 1000;\n"
            "                     default 50G)\n"
            "  --dry-run          say how much would be downloaded; change nothing\n"
            "A pull that would not fit the cache's disk (100 MB kept free) stops before downloading,\n"
            "saying how much it needs and how much is free.\n"
            "  --no-tokenizer     for a model that ships without a tokenizer, do not also fetch\n"
            "                     the tokenizer files of its base model (the default for\n"
            "                     grounded-ai/phi3-toxicity-judge-merge: those of\n"
            "                     microsoft/Phi-3-mini-4k-instruct); only without --include\n"
            "  -v, --verbose      progress on stderr even when it is not a terminal\n"
            "  -q, --quiet        no progress, no summary\n"
            "  -h, --help         this text\n"
            "\n"
            "environment: HF_TOKEN (sent as 'Authorization: Bearer'; else the token file of\n"
            "`huggingface-cli login`), HF_ENDPOINT, HF_HUB_CACHE, HF_HOME, HF_HUB_OFFLINE=1\n"
            "(refuses to download).\n");
}

typedef struct progress_view {
    int tty;          /* redraw one line with '\r' */
    int verbose;      /* one line per event when not a terminal */
    double t0;        /* when the current file started (monotonic s) */
    uint64_t start_b; /* its bytes on disk then */
    double last_print;
    int line_open;    /* a '\r' line is on screen */
} progress_view;


static void on_progress(void *user, const hub_progress *p) {
    progress_view *v = user;
    char fd[32], fs[32], td[32], ts[32], rate[32] = "";
    hub_format_bytes(p->file_done, fd, sizeof fd);
    hub_format_bytes(p->file_size, fs, sizeof fs);
    hub_format_bytes(p->total_done, td, sizeof td);
    hub_format_bytes(p->total_size, ts, sizeof ts);
    double t = util_now_s();
    if (p->event == HUB_EV_FILE_START) {
        v->t0 = t;
        v->start_b = p->file_done;
    }
    if (t > v->t0 + 0.5 && p->file_done > v->start_b) {
        hub_format_bytes((uint64_t)((double)(p->file_done - v->start_b) / (t - v->t0)), rate, sizeof rate - 2);
        strcat(rate, "/s");
    }
    if (v->tty) {
        if (p->event == HUB_EV_FILE_PROGRESS && t - v->last_print < 0.2) return;
        v->last_print = t;
        const char *tag = p->event == HUB_EV_FILE_CACHED ? "cached" : p->event == HUB_EV_FILE_DONE ? "done" : "";
        fprintf(stderr, "\r\033[K[%d/%d] %s  %s / %s%s%s  (total %s / %s) %s", p->file_index + 1, p->n_files,
                p->file, fd, fs, rate[0] ? "  " : "", rate, td, ts, tag);
        v->line_open = 1;
        if (p->event == HUB_EV_FILE_DONE || p->event == HUB_EV_FILE_CACHED) {
            fputc('\n', stderr);
            v->line_open = 0;
        }
        if (p->event == HUB_EV_FILE_RETRY) {
            fprintf(stderr, "\n  transfer broke (%s); resuming\n", p->message ? p->message : "?");
            v->line_open = 0;
        }
        return;
    }
    switch (p->event) {
    case HUB_EV_FILE_START:
        fprintf(stderr, "[%d/%d] %s: downloading %s%s%s\n", p->file_index + 1, p->n_files, p->file, fs,
                p->file_done ? ", resuming at " : "", p->file_done ? fd : "");
        break;
    case HUB_EV_FILE_RETRY:
        fprintf(stderr, "[%d/%d] %s: transfer broke at %s (%s); resuming\n", p->file_index + 1, p->n_files, p->file,
                fd, p->message ? p->message : "?");
        break;
    case HUB_EV_FILE_DONE:
        fprintf(stderr, "[%d/%d] %s: done, %s verified %s (total %s / %s)\n", p->file_index + 1, p->n_files, p->file,
                fs, rate, td, ts);
        break;
    case HUB_EV_FILE_CACHED:
        fprintf(stderr, "[%d/%d] %s: already in the cache (%s)\n", p->file_index + 1, p->n_files, p->file, fs);
        break;
    case HUB_EV_FILE_PROGRESS:
        if (t - v->last_print >= 10) { /* a heartbeat for logs, not a flood */
            v->last_print = t;
            fprintf(stderr, "[%d/%d] %s: %s / %s %s\n", p->file_index + 1, p->n_files, p->file, fd, fs, rate);
        }
        break;
    }
}

/* Splits a comma-separated --include value into pats (pointers into buf). */
static int add_patterns(char *buf, const char **pats, int *n) {
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        if (*n >= MAX_PATTERNS) return -1;
        pats[(*n)++] = tok;
    }
    return 0;
}

/* One hub_pull with its summary on stderr; the snapshot folder goes to stdout when print_path. */
static int pull_one(const hub_pull_opts *o, progress_view *view, int quiet, int print_path) {
    hub_pull_result res;
    char err[1024], total[32], need[32], got[32];
    if (hub_pull(o, &res, err, sizeof err)) {
        if (view->line_open) fputc('\n', stderr);
        view->line_open = 0;
        cli_error("pull", "%s", err);
        return 1;
    }
    hub_format_bytes(res.total_bytes, total, sizeof total);
    hub_format_bytes(res.need_bytes, need, sizeof need);
    hub_format_bytes(res.downloaded_bytes, got, sizeof got);
    if (print_path) printf("%s\n", res.snapshot);
    if (quiet) return 0;
    if (o->dry_run)
        fprintf(stderr, "%s at %.12s: %d files, %s; %d already cached; would download %s\n", o->repo, res.sha,
                res.n_files, total, res.n_cached, need);
    else
        fprintf(stderr, "pulled %s at %.12s: %d files, %s (%d already cached, %s downloaded)%s%s\n", o->repo, res.sha,
                res.n_files, total, res.n_cached, got, print_path ? "" : " into ", print_path ? "" : res.snapshot);
    return 0;
}

/* "5000", "64M", "50G": bytes, with suffixes k M G T as powers of 1000. */
static int parse_size(const char *v, uint64_t *out) {
    char *end;
    double x = strtod(v, &end);
    const char *units = "kMGT";
    double mul = 1;
    if (*end && end[1] == 0 && strchr(units, *end)) {
        for (const char *u = units; *u; u++) {
            mul *= 1000;
            if (*u == *end) break;
        }
        end++;
    }
    if (end == v || *end || !(x * mul >= 1 && x * mul < 1.8e19)) return -1;
    *out = (uint64_t)(x * mul);
    return 0;
}

int cmd_pull(int argc, char **argv) {
    const char *pats[MAX_PATTERNS + 1] = {0};
    char *bufs[MAX_PATTERNS] = {0};
    int n_pats = 0, n_bufs = 0, verbose = 0, quiet = 0, no_tokenizer = 0, rc = 2;
    hub_pull_opts o = {.retries = -1};
    progress_view view = {.tty = isatty(2)};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--revision") || !strcmp(a, "--include") || !strcmp(a, "--cache-dir") ||
                    !strcmp(a, "--endpoint") || !strcmp(a, "--retries") || !strcmp(a, "--timeout") ||
                    !strcmp(a, "--deadline") || !strcmp(a, "--max-file-size");
        if (cli_is_help(a)) {
            help(stdout);
            rc = 0;
            goto done;
        }
        if (takes && !val) {
            cli_error("pull", "%s needs a value (see phi3vk pull --help)", a);
            goto done;
        }
        if (!strcmp(a, "--revision")) o.revision = val;
        else if (!strcmp(a, "--cache-dir")) o.cache_dir = val;
        else if (!strcmp(a, "--endpoint")) o.endpoint = val;
        else if (!strcmp(a, "--retries") || !strcmp(a, "--timeout")) {
            char *end;
            long x = strtol(val, &end, 10);
            if (*end || end == val || x < 0 || x > 1000) {
                cli_error("pull", "%s: expected a whole number 0..1000, got '%s'", a, val);
                goto done;
            }
            if (a[2] == 'r') o.retries = (int)x;
            else o.timeout_s = (int)x;
        } else if (!strcmp(a, "--deadline")) {
            long long x;
            if (cli_parse_int("pull", a, val, 1, 10000000, &x)) goto done;
            o.deadline_s = (int)x;
        } else if (!strcmp(a, "--max-file-size")) {
            if (parse_size(val, &o.max_file_bytes)) {
                cli_error("pull", "--max-file-size: expected a number of bytes >= 1 with an optional k, M, G or T, got '%s'",
                          val);
                goto done;
            }
        } else if (!strcmp(a, "--include")) {
            if (n_bufs >= MAX_PATTERNS || !(bufs[n_bufs] = strdup(val)) ||
                add_patterns(bufs[n_bufs++], pats, &n_pats)) {
                cli_error("pull", "--include: at most %d patterns", MAX_PATTERNS);
                goto done;
            }
        } else if (!strcmp(a, "--dry-run")) o.dry_run = 1;
        else if (!strcmp(a, "--no-tokenizer")) no_tokenizer = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-') {
            cli_error("pull", "unknown option '%s' (see phi3vk pull --help)", a);
            goto done;
        } else if (o.repo) {
            cli_error("pull", "one repo at a time (got '%s' and '%s')", o.repo, a);
            goto done;
        } else o.repo = a;
        if (takes) i++;
    }
    if (!o.repo) {
        cli_error("pull", "no repo given (usage: phi3vk pull owner/name[@revision]; see --help)");
        goto done;
    }
    if (n_pats) o.include = pats;
    view.verbose = verbose;
    if (!quiet && !o.dry_run && (view.tty || verbose)) {
        o.progress = on_progress;
        o.progress_user = &view;
    }
    rc = pull_one(&o, &view, quiet, 1);
    const char *tok = hub_default_tokenizer_repo(o.repo);
    if (rc == 0 && tok && !n_pats && !no_tokenizer) {
        /* The judge ships without a tokenizer: fetch its base model's, so classify works offline. */
        static const char *const tok_files[] = {"tokenizer.json", "tokenizer_config.json",
                                                "special_tokens_map.json", NULL};
        hub_pull_opts t = o;
        t.repo = tok;
        t.revision = NULL;
        t.include = tok_files;
        rc = pull_one(&t, &view, quiet, 0);
    }
done:
    for (int i = 0; i < n_bufs; i++) free(bufs[i]);
    return rc;
}
