/* phi3vk perplexity: perplexity of a model over a text file, computed in
 * windows the way llama.cpp's llama-perplexity does, so the numbers compare. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "tokenizer/tok.h"
#include "util/time.h"

#define DEFAULT_CTX 512 /* llama-perplexity's default window */

static const char *perplexity_usage =
    "usage: phi3vk perplexity -m MODEL -f TEXT [--ctx N] [--stride N] [--json] [model options]\n"
    "\n"
    "Perplexity of the model over the text file TEXT ('-' = standard input), as llama.cpp's\n"
    "llama-perplexity computes it: the text is tokenized once (BOS first unless --no-bos) and\n"
    "cut into windows of --ctx tokens; each window starts with BOS and is evaluated on its\n"
    "own, and only the tokens of its second half are scored, so that each scored token has at\n"
    "least ctx/2 tokens of context. The running perplexity is printed on stderr after each\n"
    "window (not with -q), the result on stdout as 'perplexity: X +/- Y' (Y: one standard error, from the\n"
    "spread of the per-token log-likelihoods).\n"
    "\n"
    "  -f, --file TEXT  the text to score (UTF-8)\n"
    "  --ctx N          window length in tokens (default 512, at least 4)\n"
    "  --stride N       tokens between the starts of windows (default: --ctx, windows do not\n"
    "                   overlap). With a stride S below ctx/2 the windows overlap and each\n"
    "                   scores its last S tokens, so every token from the first window's second\n"
    "                   half on is scored once, with at least ctx - S tokens of context.\n"
    "  --json           print the result as one JSON object instead\n"
    "\n";

/* Sums over scored tokens of the negative log-likelihood and its square. */
typedef struct ppl_sum {
    double nll, nll2;
    long long count;
} ppl_sum;

/* Adds the NLL of targets[0..n) given logits rows [n, vocab]; row r predicts
 * targets[r]. Returns -1 when a row has a non-finite logit. */
static int score_rows(const float *logits, int vocab, const int32_t *targets, int n, ppl_sum *s) {
    for (int r = 0; r < n; r++) {
        const float *l = logits + (size_t)r * vocab;
        double mx = -INFINITY;
        for (int v = 0; v < vocab; v++)
            if (l[v] > mx) mx = l[v];
        if (!isfinite(mx)) return -1;
        double sum = 0;
        for (int v = 0; v < vocab; v++) sum += exp((double)l[v] - mx);
        double nll = log(sum) + mx - l[targets[r]];
        if (!isfinite(nll)) return -1;
        s->nll += nll;
        s->nll2 += nll * nll;
        s->count++;
    }
    return 0;
}

/* Perplexity and its standard error (delta method: ppl x the standard error
 * of the mean NLL), like llama-perplexity's final estimate. */
static void ppl_result(const ppl_sum *s, double *ppl, double *err, double *mean) {
    *mean = s->nll / (double)s->count;
    *ppl = exp(*mean);
    double var = s->nll2 / (double)s->count - *mean * *mean;
    *err = s->count > 1 && var > 0 ? *ppl * sqrt(var / (double)(s->count - 1)) : 0;
}

/* Significant digits that show 4 decimals for ordinary perplexities and
 * switch to exponent notation for the huge ones of random-weight models. */
static int digits(double x) {
    int d = 4;
    for (double p = 1; p <= x && d < 10; p *= 10) d++;
    return d;
}

typedef struct ppl_args {
    cli_model_args model;
    const char *file;
    long long stride;   /* 0: ctx */
    int json;
} ppl_args;

static int parse_args(ppl_args *p, int argc, char **argv) {
    const char *cmd = "perplexity";
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = cli_model_arg(&p->model, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(argv[i])) {
            fputs(perplexity_usage, stdout);
            fputs(CLI_MODEL_HELP, stdout);
            return 1;
        } else if (!strcmp(argv[i], "--json")) {
            p->json = 1;
        } else if (cli_opt(cmd, argc, argv, &i, "-f", &v) || cli_opt(cmd, argc, argv, &i, "--file", &v)) {
            if (!v) return 2;
            p->file = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--stride", &v)) {
            if (!v || cli_parse_int(cmd, "--stride", v, 1, 1 << 24, &p->stride)) return 2;
        } else {
            cli_error(cmd, "unexpected argument '%s' (see phi3vk perplexity --help)", argv[i]);
            return 2;
        }
    }
    if (!p->file) {
        cli_error(cmd, "missing -f TEXT");
        return 2;
    }
    if (p->model.n_ctx && p->model.n_ctx < 4) {
        cli_error(cmd, "--ctx %d: expected at least 4 tokens", p->model.n_ctx);
        return 2;
    }
    if (p->stride && p->model.n_ctx && p->stride > p->model.n_ctx) {
        cli_error(cmd, "--stride %lld: expected at most --ctx (%d)", p->stride, p->model.n_ctx);
        return 2;
    }
    return 0;
}

/* Evaluates every window and prints the result. Returns the exit code. */
static int run_windows(const ppl_args *p, eng_model *m, eng_ctx *c, const tok_ids *text) {
    const char *cmd = "perplexity";
    int n_ctx = eng_ctx_n_ctx(c), vocab = eng_model_config(m)->vocab;
    int stride = p->stride ? (int)p->stride : n_ctx;
    /* Targets are the window positions [first + 1, n_ctx): the second half
     * (llama-perplexity), or the last `stride` tokens when that is fewer. */
    int first = n_ctx / 2 > n_ctx - 1 - stride ? n_ctx / 2 : n_ctx - 1 - stride;
    int n_win = (int)((text->n - (size_t)n_ctx) / (size_t)stride) + 1;
    int32_t bos = tok_bos_id(eng_model_tokenizer(m));
    int32_t *win = malloc((size_t)n_ctx * sizeof *win);
    if (!win) {
        cli_error(cmd, "out of memory");
        return 1;
    }
    ppl_sum sum = {0};
    char err[2048];
    double t0 = util_now_s(), ppl = 0, se = 0, mean = 0;
    for (int w = 0; w < n_win; w++) {
        const int32_t *src = text->ids + (size_t)w * stride;
        memcpy(win, src, (size_t)n_ctx * sizeof *win);
        if (!p->model.no_bos && bos >= 0) win[0] = bos;
        err[0] = 0;
        eng_output out;
        if (eng_seq_truncate(c, 0, 0) ||
            eng_step(c, &(eng_input){.seq = 0, .tokens = win, .n = n_ctx, .want = ENG_ALL_LOGITS}, 1, &out, err,
                     sizeof err)) {
            if (!err[0]) snprintf(err, sizeof err, "cannot reset the context");
            cli_error(cmd, "window %d: %s", w + 1, err);
            free(win);
            return 1;
        }
        const float *logits = out.logits;
        if (score_rows(logits + (size_t)first * vocab, vocab, src + first + 1, n_ctx - 1 - first, &sum)) {
            cli_error(cmd, "window %d: the model produced non-finite logits (broken weights?)", w + 1);
            free(win);
            return 1;
        }
        ppl_result(&sum, &ppl, &se, &mean);
        double dt = util_now_s() - t0;
        if (!p->model.quiet)
            fprintf(stderr, "[%d/%d] perplexity %.*g  (%lld tokens scored, %.1f s, %.1f tokens/s)\n", w + 1, n_win,
                digits(ppl), ppl, sum.count, dt, (w + 1.0) * n_ctx / dt);
    }
    free(win);
    if (p->json)
        printf("{\"perplexity\": %.9g, \"uncertainty\": %.9g, \"nll_mean\": %.9g, \"tokens_scored\": %lld, "
               "\"windows\": %d, \"ctx\": %d, \"stride\": %d, \"text_tokens\": %zu, \"seconds\": %.3f}\n",
               ppl, se, mean, sum.count, n_win, n_ctx, stride, text->n, util_now_s() - t0);
    else
        printf("perplexity: %.*g +/- %.*g\n", digits(ppl), ppl, digits(ppl), se);
    return fflush(stdout) ? 1 : 0;
}

int cmd_perplexity(int argc, char **argv) {
    const char *cmd = "perplexity";
    ppl_args p = {0};
    int r = parse_args(&p, argc, argv);
    if (r) return r == 1 ? 0 : r;
    size_t len;
    char *text = cli_read_text(cmd, p.file, &len);
    if (!text) return 1;
    tok_ids ids = {0};
    eng_ctx *c = NULL;
    int rc = 1;
    eng_model *m = cli_model_open(cmd, &p.model, 1);
    if (!m || cli_encode_prompt(cmd, m, &p.model, text, len, 0, NULL, &ids)) goto done;
    int max_pos = eng_model_config(m)->max_pos;
    int n_ctx = p.model.n_ctx ? p.model.n_ctx : (max_pos < DEFAULT_CTX ? max_pos : DEFAULT_CTX);
    if (n_ctx < 4) {
        cli_error(cmd, "the model's context (%d tokens) is too short for perplexity windows", max_pos);
        goto done;
    }
    if (p.stride > n_ctx) {
        cli_error(cmd, "--stride %lld: expected at most the window length %d", p.stride, n_ctx);
        goto done;
    }
    if (ids.n < (size_t)n_ctx) {
        cli_error(cmd, "%s has %zu tokens, fewer than one window of --ctx %d: pass a smaller --ctx or a longer "
                       "text", p.file, ids.n, n_ctx);
        goto done;
    }
    if (!(c = cli_ctx_create(cmd, m, &p.model,
                             &(eng_plan_request){.n_ctx = n_ctx, .n_seq = 1, .n_batch = n_ctx, .all_logits = 1})))
        goto done;
    rc = run_windows(&p, m, c, &ids);
done:
    tok_ids_free(&ids);
    free(text);
    if (cli_model_close(m, c)) rc = 1;
    return rc;
}
