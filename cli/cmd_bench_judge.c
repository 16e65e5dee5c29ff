/* phi3vk bench --judge: the toxicity judge's workload as a benchmark row
 * (bench/judge.h), with classify's flags for the model, items and prompt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/judge.h"
#include "cli/cli.h"
#include "cli/judge_common.h"

#define JUDGE_BENCH_ITEMS 64 /* default --limit: the first 64 items of -f */

typedef struct judge_bench_args {
    cli_judge_args j;
    int reps, quiet, no_model_check;
    bench_format fmt;
} judge_bench_args;

static void on_progress(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "phi3vk bench: %s\n", msg);
}

/* Returns 0, or 2 after printing a usage error. */
static int parse_args(judge_bench_args *a, int argc, char **argv) {
    const char *cmd = "bench";
    a->reps = 1, a->fmt = BENCH_FMT_MD;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL, *arg = argv[i];
        long long x;
        int r = cli_judge_arg(&a->j, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0 || !strcmp(arg, "--judge")) continue;
        if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) a->quiet = 1;
        else if (!strcmp(arg, "--no-model-check")) a->no_model_check = 1;
        else if (cli_opt(cmd, argc, argv, &i, "-r", &v) || cli_opt(cmd, argc, argv, &i, "--repetitions", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 1, BENCH_MAX_REPS, &x)) return 2;
            a->reps = (int)x;
        } else if (cli_opt(cmd, argc, argv, &i, "-o", &v) || cli_opt(cmd, argc, argv, &i, "--output", &v)) {
            if (!v) return 2;
            if (bench_format_parse(v, &a->fmt)) {
                cli_error(cmd, "-o: expected md, csv, json or jsonl, found '%s'", v);
                return 2;
            }
        } else {
            cli_error(cmd, "--judge: unknown argument '%s' (see phi3vk bench --help)", arg);
            return 2;
        }
    }
    if (cli_judge_check_args(cmd, &a->j)) return 2;
    if (!a->j.file) {
        cli_error(cmd, "--judge needs the items: -f FILE (for example ../shared/data/toxicity/"
                       "davidson_labeled_data.binary.tsv; see phi3vk bench --help)");
        return 2;
    }
    if (a->j.out) {
        cli_error(cmd, "--judge measures every item each repetition: --out (resume) does not apply");
        return 2;
    }
    if (a->j.limit == 0) a->j.limit = JUDGE_BENCH_ITEMS;
    return 0;
}

/* The row's model name: what was asked for (a repo id stays a repo id). */
static const char *model_name(const cli_judge_args *j) {
    if (j->model.model) return j->model.model;
    const char *env = getenv("PHI3VK_MODEL");
    return env && *env ? env : CLI_JUDGE_MODEL;
}

int cmd_bench_judge(int argc, char **argv) {
    const char *cmd = "bench";
    judge_bench_args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    rc = 1;
    judge_dataset *ds = cli_judge_load(cmd, &a.j, NULL);
    cli_judge_session s = {0};
    bench_report rep = {0};
    int *idx = NULL, n = 0;
    if (!ds) goto done;
    n = a.j.limit < ds->n ? a.j.limit : ds->n;
    if (n == 0 || !(idx = malloc(sizeof *idx * (size_t)n))) {
        cli_error(cmd, n ? "out of memory" : "%s holds no items", ds->source);
        goto done;
    }
    n = judge_select(ds->n, NULL, n, 0, JUDGE_SELECT_SEED, idx);
    if (cli_judge_open(cmd, &a.j, ds, idx, n, &s)) goto done;
    bench_judge_opts o = {
        .m = s.m, .c = s.c, .cl = s.cl, .ds = ds, .idx = idx, .n = n,
        .batch = eng_ctx_n_seq(s.c), .reason = a.j.reason, .model_name = model_name(&a.j),
        .prompt_name = s.prompt->name, .src = {.path = s.model_path}, .no_model_check = a.no_model_check,
        .reps = a.reps, .progress = a.quiet ? NULL : on_progress,
    };
    char err[2048];
    if (bench_judge_run(&o, &rep, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    char *text = bench_report_format(&rep, a.fmt);
    if (!text) {
        cli_error(cmd, "out of memory formatting the report");
        goto done;
    }
    fputs(text, stdout);
    free(text);
    rc = 0;
    if (!bench_report_valid(&rep)) {
        cli_error(cmd, "a correctness check FAILED: the numbers are not valid");
        rc = 1;
    }
done:
    bench_report_free(&rep);
    if (cli_judge_close(&s) && rc == 0) rc = 1;
    judge_dataset_destroy(ds);
    free(idx);
    return rc;
}
