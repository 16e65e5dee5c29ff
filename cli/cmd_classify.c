/* phi3vk classify: the toxicity judge over texts, a file or standard input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/judge_common.h"
#include "judge/shard.h"
#include "judge/stream.h"
#include "util/utf8.h"

static const char *classify_usage =
    "usage: phi3vk classify [TEXT...] [-f FILE] [--jsonl | --csv | --tsv | --table] [--out FILE] [options]\n"
    "\n"
    "Asks the toxicity judge whether each text is toxic: for each item a label (toxic, non-toxic,\n"
    "or unparsable with --reason), P(toxic) from the model's probabilities at the answer position,\n"
    "and with --reason the model's own explanation. Items are the TEXT arguments (ids 1, 2, ...),\n"
    "else -f FILE, else standard input (one text per line).\n"
    "\n"
    "Without -m (and $PHI3VK_MODEL) the model is " CLI_JUDGE_MODEL " from the\n"
    "Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub) with the tokenizer\n"
    "of microsoft/Phi-3-mini-4k-instruct; when it is missing the first run downloads it (about\n"
    "15.3 GB; phi3vk pull " CLI_JUDGE_MODEL " does the same). -m also takes\n"
    "a repo id owner/name[@revision] found in that cache.\n"
    "\n"
    "Standard input (plain text or --format jsonl) is answered line by line as it arrives\n"
    "(tail -f log | phi3vk classify --jsonl); files, and TSV/CSV on standard input, are read whole.\n"
    "--shard K/N takes the items whose id hashes to shard K of N (sha256 of the id; the same on\n"
    "every machine), so N runs split a dataset; eval --predictions 'out-*.jsonl' reports on them.\n"
    "\n"
    "output (standard output; the record fields are listed in the README, \"Output schemas\"):\n"
    "  (default)             a table: id, label, P(toxic), the start of the text (and the reason)\n"
    "  --jsonl               one JSON object per item: id, label, p_toxic, reason, prompt_tokens,\n"
    "                        ms, text_sha256, schema_version, kept columns\n"
    "  --csv, --tsv          a header row, then a row per item: id, label, p_toxic, reason, error,\n"
    "                        truncated, prompt_tokens, ms, kept columns\n"
    "  --output-format F     table, jsonl, csv, tsv, or hf: a JSON list of {\"label\", \"score\"} as a\n"
    "                        Hugging Face text-classification pipeline returns it (score: the\n"
    "                        probability of that label). --format stays the input's format\n"
    "  --table               the table even with --out (which otherwise keeps standard output quiet)\n"
    "csv, tsv and hf list every item in input order, resumed ones included. A progress bar (on a\n"
    "terminal) and a summary go to standard error.\n"
    "\n";
static const char *classify_tail =
    "\n"
    "Exit codes: 0 done, 1 error, 2 usage error, 3 done but some items were skipped (prompt too long\n"
    "for the context; --too-long), 130 stopped by Ctrl-C (rerun with --out to resume).\n";

typedef struct classify_args {
    cli_judge_args j;
    judge_output_format fmt; /* standard output's format */
    int fmt_given;           /* set by --jsonl, --csv, --tsv, --table or --output-format */
    char **texts;   /* the TEXT arguments */
    int n_texts;
} classify_args;

/* Records one choice of output format; two different ones are an error. */
static int set_format(classify_args *c, judge_output_format f, const char *opt) {
    if (c->fmt_given && c->fmt != f) {
        cli_error("classify", "%s: the output format is already %s; choose one", opt, judge_output_format_name(c->fmt));
        return -1;
    }
    c->fmt = f;
    c->fmt_given = 1;
    return 0;
}

/* Parses argv; returns 0, 1 when --help was printed, or 2 for a usage error. */
static int parse_args(classify_args *c, int argc, char **argv) {
    const char *cmd = "classify";
    c->texts = calloc((size_t)argc, sizeof *c->texts);
    if (!c->texts) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_judge_arg(&c->j, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(a)) {
            cli_judge_help(classify_usage, classify_tail);
            return 1;
        } else if (!strcmp(a, "--jsonl") || !strcmp(a, "--csv") || !strcmp(a, "--tsv") || !strcmp(a, "--table")) {
            judge_output_format f;
            judge_output_format_parse(a + 2, &f);
            if (set_format(c, f, a)) return 2;
        } else if (!strcmp(a, "--output-format")) {
            judge_output_format f;
            if (i + 1 >= argc || judge_output_format_parse(argv[i + 1], &f)) {
                cli_error(cmd, "--output-format: expected table, jsonl, csv, tsv or hf, found '%s'",
                          i + 1 < argc ? argv[i + 1] : "");
                return 2;
            }
            if (set_format(c, f, argv[i++])) return 2;
        } else if (!strcmp(a, "--")) {
            while (++i < argc) c->texts[c->n_texts++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            cli_error(cmd, "unknown option '%s' (see phi3vk classify --help; a text starting with '-' goes after --)",
                      a);
            return 2;
        } else c->texts[c->n_texts++] = argv[i];
    }
    if (cli_judge_check_args(cmd, &c->j)) return 2;
    if (cli_is_stdout(c->j.out)) { /* the records go to standard output: JSONL, nothing to resume */
        if (c->fmt_given && c->fmt != JUDGE_OUTPUT_JSONL) {
            cli_error(cmd, "--out - writes JSON lines to standard output, which --%s would share: choose one",
                      judge_output_format_name(c->fmt));
            return 2;
        }
        c->j.out = NULL;
        c->fmt = JUDGE_OUTPUT_JSONL;
        c->fmt_given = 1;
    }
    if (c->n_texts && c->j.file) {
        cli_error(cmd, "TEXT arguments and -f both given: pass the items one way");
        return 2;
    }
    if (!c->n_texts && !c->j.file && isatty(0)) {
        cli_error(cmd, "nothing to classify: pass TEXT arguments, -f FILE, or texts on standard input (see --help)");
        return 2;
    }
    return 0;
}

/* The TEXT arguments as a dataset with ids 1, 2, ... */
static judge_dataset *texts_dataset(const classify_args *c) {
    judge_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->items = calloc((size_t)c->n_texts, sizeof *ds->items))) {
        free(ds);
        return NULL;
    }
    snprintf(ds->source, sizeof ds->source, "<arguments>");
    ds->format = JUDGE_FORMAT_TEXT;
    for (int i = 0; i < c->n_texts; i++) {
        judge_item *it = &ds->items[i];
        ds->n = i + 1;
        it->text_len = strlen(c->texts[i]);
        it->text = malloc(it->text_len + 1);
        it->id = malloc(16);
        if (!it->text || !it->id) {
            judge_dataset_destroy(ds);
            return NULL;
        }
        memcpy(it->text, c->texts[i], it->text_len + 1);
        snprintf(it->id, 16, "%d", i + 1);
        it->line = i + 1;
        if (!util_utf8_valid(it->text, it->text_len)) {
            if (!ds->n_invalid_utf8++) ds->first_invalid_utf8_line = i + 1;
        }
    }
    return ds;
}

/* 1 when the items come from standard input in a format read line by line
 * (plain text or JSONL): then they are answered as they arrive. */
static int stream_input(const cli_judge_args *a) {
    judge_format f = a->ds.format;
    return (!a->file || !strcmp(a->file, "-")) &&
           (f == JUDGE_FORMAT_AUTO || f == JUDGE_FORMAT_TEXT || f == JUDGE_FORMAT_JSONL);
}

static judge_stream *open_stream(const char *cmd, const cli_judge_args *a) {
    judge_stream_opts o = {.ds = a->ds, .limit = a->limit};
    char err[1024];
    if (a->shard) judge_shard_parse(a->shard, &o.shard, err, sizeof err);
    judge_stream *st = judge_stream_open(0, "<stdin>", &o, err, sizeof err);
    if (!st) cli_error(cmd, "%s", err);
    return st;
}

static void warn_invalid_utf8(const char *cmd, const judge_stream *st) {
    int first, n = judge_stream_invalid_utf8(st, &first);
    if (n)
        fprintf(stderr, "phi3vk %s: warning: %d text%s not valid UTF-8 (first at <stdin>:%d); the bytes were kept\n",
                cmd, n, n == 1 ? " is" : "s are", first);
}

int cmd_classify(int argc, char **argv) {
    const char *cmd = "classify";
    classify_args c = {0};
    int r = parse_args(&c, argc, argv);
    if (r) {
        free(c.texts);
        return r == 1 ? 0 : r;
    }
    judge_dataset *ds = NULL;
    cli_judge_session s = {0};
    judge_run_result *results = NULL;
    int *idx = NULL, rc = 1, n = 0;
    if (c.n_texts) {
        if (!(ds = texts_dataset(&c))) {
            cli_error(cmd, "out of memory");
            goto done;
        }
    } else if (stream_input(&c.j)) {
        if (!(s.stream = open_stream(cmd, &c.j))) goto done;
    } else if (!(ds = cli_judge_load(cmd, &c.j, NULL))) {
        goto done;
    }
    FILE *jsonl = c.fmt == JUDGE_OUTPUT_JSONL ? stdout : NULL;
    FILE *table = c.fmt == JUDGE_OUTPUT_TABLE && (c.fmt_given || !c.j.out) ? stdout : NULL;
    judge_output records = {stdout, c.fmt, 0};
    int rec = c.fmt == JUDGE_OUTPUT_CSV || c.fmt == JUDGE_OUTPUT_TSV || c.fmt == JUDGE_OUTPUT_HF;
    if (s.stream) { /* items come as they arrive: no selection, no results array */
        results = calloc(1, sizeof *results);
        if (!results) goto done;
        if (cli_judge_open(cmd, &c.j, NULL, NULL, 0, &s)) goto done;
        int run = cli_judge_run(cmd, &c.j, &s, NULL, NULL, 0, jsonl, table, rec ? &records : NULL, results);
        rc = run == 0 ? 0 : run == 1 ? 130 : run == 3 ? 3 : 1;
        warn_invalid_utf8(cmd, s.stream);
        goto done;
    }
    n = c.j.limit > 0 && c.j.limit < ds->n ? c.j.limit : ds->n;
    idx = malloc(sizeof *idx * (size_t)(n > 0 ? n : 1));
    results = calloc((size_t)(n > 0 ? n : 1), sizeof *results);
    if (!idx || !results) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    n = judge_select(ds->n, NULL, n, 0, JUDGE_SELECT_SEED, idx);
    if (n == 0) {
        cli_error(cmd, "%s holds no items", ds->source);
        goto done;
    }
    if (c.j.shard) { /* a shard may hold no item of a small dataset: then it writes nothing */
        judge_shard sh;
        judge_shard_parse(c.j.shard, &sh, NULL, 0);
        n = judge_shard_filter(&sh, ds, idx, n);
    }
    if (cli_judge_open(cmd, &c.j, ds, idx, n, &s)) goto done;
    int run = cli_judge_run(cmd, &c.j, &s, ds, idx, n, jsonl, table, rec ? &records : NULL, results);
    rc = run == 0 ? 0 : run == 1 ? 130 : run == 3 ? 3 : 1;
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(cmd, "writing standard output failed");
        rc = 1;
    }
done:
    judge_run_results_free(results, results ? n : 0);
    free(results);
    free(idx);
    if (cli_judge_close(&s) && rc == 0) rc = 1;
    judge_dataset_destroy(ds);
    free(c.texts);
    return rc;
}
