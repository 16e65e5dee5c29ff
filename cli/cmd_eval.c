/* phi3vk eval: the toxicity judge over a labelled file, reported the way the
 * model card reports it (scikit-learn's classification_report). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval_predictions.h"
#include "cli/judge_common.h"
#include "formats/png.h"
#include "judge/plot.h"
#include "judge/report.h"

static const char *eval_usage =
    "usage: phi3vk eval -f LABELLED [--label-col label] [--text-col text] [--positive toxic]\n"
    "                   [--limit N] [--balance] [--seed S] [--digits D] [--json] [--plot FILE.png]\n"
    "                   [options]\n"
    "\n"
    "Classifies every item of a labelled file (see phi3vk classify) and prints the classification\n"
    "report in scikit-learn's layout (precision, recall, f1-score and support per class; accuracy;\n"
    "macro and weighted averages), the confusion matrix, ROC-AUC and PR-AUC (average precision) of\n"
    "P(toxic), the threshold on P(toxic) with the best F1, the number of unparsable answers, which\n"
    "count as wrong, and the calibration table of P(toxic) (10 reliability bins: items, mean\n"
    "P(toxic), fraction toxic) with its expected calibration error (ECE). Class 1 is the label\n"
    "given by --positive, class 0 the one other label in the file (a third value is an error); a\n"
    "file of one class, toxic-only or non-toxic-only, is accepted and the metrics it leaves\n"
    "undefined (ROC-AUC; without toxic items PR-AUC and the best F1) are reported as such.\n"
    "\n"
    "  --label-col NAME      column/field of the label (default label)\n"
    "  --positive LABEL      the toxic class's label (default toxic; compared case-insensitively)\n"
    "  --limit N             the first N items; with --balance N/2 of each class\n"
    "  --balance             the same number of items of each class (the smaller class's size, or\n"
    "                        N/2 with --limit), drawn with a fixed seed: --limit 350 --balance\n"
    "                        gives a 175/175 set like the model card's\n"
    "  -s, --seed S          the seed of --balance (default 42)\n"
    "  --digits D            decimals of the report (default 2, as scikit-learn)\n"
    "  --json                the report as JSON (scikit-learn's output_dict keys, the confusion\n"
    "                        matrix, roc_auc, pr_auc, best_f1, calibration, the unparsable ids,\n"
    "                        schema_version; numbers with 6 significant digits)\n"
    "  --plot FILE.png       also draw the ROC curve and the reliability diagram of P(toxic) into\n"
    "                        a PNG image (960 x 440)\n"
    "  -v                    also list the ids of unparsable answers (and the model's details)\n"
    "  --predictions GLOB    no model run: the report from results files of earlier runs (classify\n"
    "                        --out, e.g. one per --shard: 'out-*.jsonl', quoted); they must cover\n"
    "                        the chosen items exactly once, for the same texts, and agree in their\n"
    "                        provenance (model, tokenizer, prompt, mode; the device may differ)\n"
    "\n";
static const char *eval_tail =
    "\n"
    "Items skipped as too long for the context (--too-long skip) are left out of every number, and\n"
    "counted and listed under the report (\"errors\" and \"error_ids\" with --json).\n"
    "\n"
    "Exit codes: 0 done, 1 error, 2 usage error, 3 done but some items were skipped (prompt too long\n"
    "for the context), 130 stopped by Ctrl-C (rerun with --out to resume).\n";

typedef struct eval_args {
    cli_judge_args j;
    const char *label_col, *positive, *plot;
    const char *predictions;     /* --predictions GLOB */
    int balance, json;
    long long seed, digits;
} eval_args;

/* Parses argv; returns 0, 1 when --help was printed, or 2 for a usage error. */
static int parse_args(eval_args *e, int argc, char **argv) {
    const char *cmd = "eval";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int r = cli_judge_arg(&e->j, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(a)) {
            cli_judge_help(eval_usage, eval_tail);
            return 1;
        } else if (!strcmp(a, "--balance")) e->balance = 1;
        else if (!strcmp(a, "--json")) e->json = 1;
        else if (cli_opt(cmd, argc, argv, &i, "--label-col", &v) || cli_opt(cmd, argc, argv, &i, "--label-field", &v)) {
            if (!v) return 2;
            e->label_col = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--positive", &v)) {
            if (!v) return 2;
            e->positive = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--plot", &v)) {
            if (!v) return 2;
            e->plot = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--seed", &v) || cli_opt(cmd, argc, argv, &i, "-s", &v)) {
            if (!v || cli_parse_int(cmd, "--seed", v, 0, 1LL << 62, &e->seed)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--predictions", &v)) {
            if (!v) return 2;
            e->predictions = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--digits", &v)) {
            if (!v || cli_parse_int(cmd, "--digits", v, 0, 12, &e->digits)) return 2;
        } else {
            cli_error(cmd, "unexpected argument '%s' (see phi3vk eval --help)", a);
            return 2;
        }
    }
    if (cli_judge_check_args(cmd, &e->j)) return 2;
    if (!e->j.file) {
        cli_error(cmd, "missing -f LABELLED (a labelled TSV, CSV or JSONL file)");
        return 2;
    }
    if (cli_is_stdout(e->j.out) || cli_is_stdout(e->plot)) {
        cli_error(cmd, "%s -: standard output carries the report; give a file", cli_is_stdout(e->plot) ? "--plot" : "--out");
        return 2;
    }
    if (e->j.shard) {
        cli_error(cmd, "--shard: eval reports on the whole labelled file; run classify --shard K/N --out "
                       "out-K.jsonl per shard, then eval --predictions 'out-*.jsonl'");
        return 2;
    }
    if (e->predictions && e->j.out) {
        cli_error(cmd, "--predictions reads results and runs no model: --out does not apply");
        return 2;
    }
    return 0;
}

/* Draws the report's ROC and reliability panels into the PNG at path.
 * Prints the error. */
static int write_plot(const char *path, const judge_report *r, const int *y_true, const double *score, int m) {
    double *fpr = NULL, *tpr = NULL;
    int n_roc = judge_roc_points(y_true, score, m, &fpr, &tpr);
    uint8_t *rgb = malloc((size_t)JUDGE_PLOT_W * JUDGE_PLOT_H * 3);
    char err[1024];
    int rc = -1;
    if (!rgb) cli_error("eval", "out of memory");
    else {
        judge_plot_render(r, fpr, tpr, n_roc, rgb);
        rc = fmt_png_write(path, rgb, JUDGE_PLOT_W, JUDGE_PLOT_H, err, sizeof err);
        if (rc) cli_error("eval", "--plot: %s", err);
    }
    free(rgb);
    free(fpr);
    free(tpr);
    return rc;
}

/* Prints the report (text or JSON) of the run's results. */
static int report(const eval_args *e, const judge_dataset *ds, const int *cls, const int *idx, int n,
                  const judge_run_result *res) {
    int *y_true = malloc(sizeof *y_true * (size_t)n);
    judge_label *y_pred = malloc(sizeof *y_pred * (size_t)n);
    double *score = malloc(sizeof *score * (size_t)n);
    char err[512];
    judge_report r;
    int rc = 1;
    if (!y_true || !y_pred || !score) {
        cli_error("eval", "out of memory");
        goto done;
    }
    /* error results (not classified) take no part in the metrics */
    int m = 0, n_err = 0;
    for (int i = 0; i < n; i++) {
        if (res[i].r.label == JUDGE_ERROR) {
            n_err++;
            continue;
        }
        y_true[m] = cls[idx[i]];
        y_pred[m] = res[i].r.label;
        score[m++] = res[i].r.p_toxic;
    }
    if (judge_report_compute(y_true, y_pred, score, m, &r, err, sizeof err)) {
        cli_error("eval", "%s", err);
        goto done;
    }
    if (e->plot && write_plot(e->plot, &r, y_true, score, m)) goto done;
    if (e->json) {
        cJSON *j = judge_report_json(&r, NULL);
        cJSON *ids = cJSON_CreateArray(), *eids = cJSON_CreateArray();
        for (int i = 0; j && ids && eids && i < n; i++) {
            if (res[i].r.label == JUDGE_UNPARSABLE) cJSON_AddItemToArray(ids, cJSON_CreateString(ds->items[idx[i]].id));
            if (res[i].r.label == JUDGE_ERROR) cJSON_AddItemToArray(eids, cJSON_CreateString(ds->items[idx[i]].id));
        }
        if (j && ids && eids) {
            cJSON_AddItemToObject(j, "unparsable_ids", ids);
            cJSON_AddNumberToObject(j, "errors", n_err);
            cJSON_AddItemToObject(j, "error_ids", eids);
        } else {
            cJSON_Delete(ids);
            cJSON_Delete(eids);
        }
        char *s = j ? cJSON_Print(j) : NULL;
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
        if (!s) {
            cli_error("eval", "out of memory");
            goto done;
        }
    } else {
        char *s = judge_report_format(&r, NULL, (int)e->digits);
        if (!s) {
            cli_error("eval", "out of memory");
            goto done;
        }
        fputs(s, stdout);
        free(s);
        if (e->j.model.verbose && r.n_unparsable) {
            printf("\nunparsable answers (id: answer):\n");
            for (int i = 0; i < n; i++)
                if (res[i].r.label == JUDGE_UNPARSABLE) {
                    /* ids come from the input file and answers from the model: shown with controls escaped */
                    const char *why = res[i].r.reason ? res[i].r.reason : "(no answer)";
                    fputs("  ", stdout);
                    cli_print_safe(stdout, ds->items[idx[i]].id, strlen(ds->items[idx[i]].id), 0);
                    fputs(": ", stdout);
                    cli_print_safe(stdout, why, strlen(why) < 120 ? strlen(why) : 120, 0);
                    fputc('\n', stdout);
                }
        }
        if (n_err) {
            printf("\nnot classified (left out of every number above): %d of %d items, their prompts do not fit "
                   "the context:\n", n_err, n);
            for (int i = 0, shown = 0; i < n; i++)
                if (res[i].r.label == JUDGE_ERROR && (shown++ < 20 || e->j.model.verbose)) {
                    fputs("  ", stdout);
                    cli_print_safe(stdout, ds->items[idx[i]].id, strlen(ds->items[idx[i]].id), 0);
                    fputs(": ", stdout);
                    cli_print_safe(stdout, res[i].r.error ? res[i].r.error : "?", strlen(res[i].r.error ? res[i].r.error : "?"), 0);
                    fputc('\n', stdout);
                }
            if (n_err > 20 && !e->j.model.verbose) printf("  ... (-v lists all %d)\n", n_err);
        }
    }
    rc = 0;
done:
    free(y_true);
    free(y_pred);
    free(score);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = "eval";
    eval_args e = {.label_col = "label", .positive = "toxic", .seed = JUDGE_SELECT_SEED, .digits = 2};
    int r = parse_args(&e, argc, argv);
    if (r) return r == 1 ? 0 : r;
    judge_dataset *ds = cli_judge_load(cmd, &e.j, e.label_col);
    cli_judge_session s = {0};
    judge_run_result *results = NULL;
    int *cls = NULL, *idx = NULL, rc = 1, n = 0;
    char err[2048];
    if (!ds) goto done;
    cls = malloc(sizeof *cls * (size_t)(ds->n > 0 ? ds->n : 1));
    idx = malloc(sizeof *idx * (size_t)(ds->n > 0 ? ds->n : 1));
    if (!cls || !idx) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    if (judge_dataset_classes(ds, e.positive, cls, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    n = judge_select(ds->n, cls, e.j.limit, e.balance, (uint64_t)e.seed, idx);
    if (e.balance) {
        int want = e.j.limit > 0 ? e.j.limit / 2 * 2 : n;
        if (n < want)
            fprintf(stderr, "phi3vk eval: warning: --balance: only %d items per class available, %d asked\n", n / 2,
                    want / 2);
    }
    if (n == 0) {
        cli_error(cmd, "%s: no items selected", ds->source);
        goto done;
    }
    if (!(results = calloc((size_t)n, sizeof *results))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    int run = 0;
    if (e.predictions) {
        if (cli_eval_predictions(cmd, e.predictions, ds, idx, n, results)) goto done;
    } else {
        if (cli_judge_open(cmd, &e.j, ds, idx, n, &s)) goto done;
        run = cli_judge_run(cmd, &e.j, &s, ds, idx, n, NULL, NULL, NULL, results);
    }
    if (run != 0 && run != 3) {
        rc = run == 1 ? 130 : 1;
        goto done;
    }
    rc = report(&e, ds, cls, idx, n, results);
    if (rc == 0 && run == 3) rc = 3;
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(cmd, "writing standard output failed");
        rc = 1;
    }
done:
    judge_run_results_free(results, results ? n : 0);
    free(results);
    free(idx);
    free(cls);
    if (cli_judge_close(&s) && rc == 0) rc = 1;
    judge_dataset_destroy(ds);
    return rc;
}
