/* What `phi3vk classify` and `phi3vk eval` share: their common flags (on top
 * of cli/common.h's model flags), finding the model (the judge by default,
 * from the Hugging Face cache, downloaded on first use), and one judge run
 * with its progress bar, Ctrl-C handling and summary. Everything here
 * prints; only cli/ includes it. */
#ifndef PHI3VK_CLI_JUDGE_COMMON_H
#define PHI3VK_CLI_JUDGE_COMMON_H

#include <stdio.h>

#include "cli/common.h"
#include "judge/classifier.h"
#include "judge/dataset.h"
#include "judge/output.h"
#include "judge/prompt.h"
#include "judge/provenance.h"
#include "judge/results.h"
#include "judge/run.h"

#define CLI_JUDGE_MODEL "grounded-ai/phi3-toxicity-judge-merge"

/* Help lines of the flags cli_judge_arg accepts. */
#define CLI_JUDGE_HELP                                                                                      \
    "input (TSV/CSV have a header row; JSONL is one object per line):\n"                                 \
    "  -f, --file FILE       items from FILE ('-' = standard input): plain text (.txt, one per line),\n" \
    "                        .tsv, .csv or .jsonl/.ndjson; any other name needs --format\n"              \
    "  --format F            text, tsv (backslash escapes), tsv-quoted, csv or jsonl\n"                  \
    "  --text-col NAME       column (TSV/CSV) or field (JSONL) of the text (default text);\n"            \
    "  --text-field NAME     the same\n"                                                                 \
    "  --id-col NAME         column/field of the id (default: the row or line number);\n"                \
    "  --id-field NAME       the same\n"                                                                 \
    "  --no-header           TSV/CSV without a header row: columns are named 1, 2, ...\n"                \
    "  --limit N             only the first N items (eval: see --balance)\n"                             \
    "  --keep-cols A,B       copy these input columns (JSONL: fields, any JSON type) into every\n"       \
    "                        record (--out, --jsonl, --csv, --tsv), under their own names\n"             \
    "prompt and answer:\n"                                                                               \
    "  --prompt NAME         judge-card (default: the model card's prompt), judge-noreason,\n"           \
    "                        judge-reason (the judge library's) or phoenix (Arize Phoenix's)\n"          \
    "  --prompt-file FILE    a custom template; {text} is replaced by the item's text\n"                 \
    "  --reason              generate the model's answer and reason (greedy decoding) and take\n"        \
    "                        the label from it; slow. Default: label and P(toxic) from the\n"            \
    "                        answer position's probabilities, no generation\n"                           \
    "  -n, --max-tokens N    with --reason: most new tokens (default 56, the judge library's)\n"         \
    "  --threshold T         without --reason: the label is toxic when P(toxic) >= T (default\n"         \
    "                        0.5; recorded in the --out provenance)\n"                                   \
    "run:\n"                                                                                             \
    "  --out FILE            also write one JSON line per item to FILE, flushed per item ('-':\n"        \
    "                        standard output, nothing to resume; classify only); a rerun\n"              \
    "                        with the same FILE skips the items it already has (resume). The file\n"     \
    "                        records the model, tokenizer, prompt, mode, device, ... of its results;\n"  \
    "                        a rerun with anything different is an error saying what differs, and\n"     \
    "                        an item whose text changed is run again\n"                                  \
    "  --force-resume        add to an --out file written with another setup anyway\n"                   \
    "  --shard K/N           (classify) only the items whose id hashes to shard K of N: N runs\n"        \
    "                        (a Kubernetes Indexed Job, a Slurm array, GNU parallel) split the\n"      \
    "                        items, each exactly once; recorded in --out's provenance\n"               \
    "  --too-long P          an item whose prompt does not fit the context: skip (default: recorded\n"   \
    "                        as \"label\":\"error\" with the reason, counted in the summary, exit\n"     \
    "                        status 3 at the end), error (stop the run), or truncate (cut the\n"         \
    "                        text, not the instructions, to fit; the record says \"truncated\")\n"       \
    "  --batch N             items per engine pass, 1..64: their prompts go through each weight\n"       \
    "                        matrix together, and with --reason they decode in lockstep (default:\n"     \
    "                        what half the device memory left after the weights holds, at most 16;\n"    \
    "                        on a CPU device 1 for labels and 8 with --reason)\n"                        \
    "  --ctx N               (model option) tokens per item's KV cache; default: the run's longest\n"    \
    "                        prompt (+ --max-tokens with --reason)\n"                                    \
    "  --no-prefix-cache     compute every prompt from its first token (for measurements; the\n"         \
    "                        default reuses the KV cache of the tokens a prompt shares with the\n"       \
    "                        previous one)\n"                                                            \
    "  --no-download         never download the default model (also: HF_HUB_OFFLINE=1)\n"                  \
    "  --device 0,1|all      (model option) one engine per listed device, sharing the items (a\n"         \
    "                        faster device takes more; results equal one device's)\n"

/* Prints head, the judge and model flags' help, then tail on stdout. */
void cli_judge_help(const char *head, const char *tail);

typedef struct cli_judge_args {
    cli_model_args model;        /* -m, --tokenizer, --device, --ctx, --validate, -v, ... */
    const char *file;            /* -f; NULL: none given */
    const char *format;          /* --format; NULL: by extension */
    judge_dataset_opts ds;       /* keys and header option (format is set from `format`) */
    int limit;                   /* --limit; 0: all */
    const char *prompt_name;     /* --prompt */
    const char *prompt_file;     /* --prompt-file */
    int reason;                  /* --reason */
    int max_new;                 /* -n; 0: the prompt's default */
    const char *out;             /* --out */
    int batch;                   /* --batch; 0: default */
    int no_prefix_cache;         /* --no-prefix-cache */
    int no_download;             /* --no-download */
    int force_resume;            /* --force-resume */
    judge_too_long too_long;     /* --too-long (default skip) */
    double threshold;            /* --threshold; 0: JUDGE_DEFAULT_THRESHOLD */
    const char *shard;           /* --shard K/N (checked); NULL: "1/1" */
    const char *keep[JUDGE_MAX_KEEP]; /* --keep-cols names (into argv); ds.keep_keys points here */
} cli_judge_args;

/* Like cli_model_arg: stores argv[*i] when it is a shared flag (model or
 * judge) and returns 1, 0 when it is not one, -1 after printing a usage
 * error. */
int cli_judge_arg(cli_judge_args *a, const char *cmd, int argc, char **argv, int *i);

/* Checks the combination of flags (after parsing); prints and returns -1
 * for a usage error. */
int cli_judge_check_args(const char *cmd, const cli_judge_args *a);

/* Loads the dataset of -f (or stdin when allow_stdin and no -f was given)
 * with the dataset flags; label_key is read when not NULL. Prints the error
 * and returns NULL. Warns about texts that are not valid UTF-8. */
judge_dataset *cli_judge_load(const char *cmd, const cli_judge_args *a, const char *label_key);

/* Everything a judge run holds. Zero-initialise. */
typedef struct cli_judge_session {
    judge_prompt *prompt;
    judge_results *out;          /* --out, or NULL */
    eng_model *m;
    eng_ctx *c;
    judge_classifier *cl;
    char model_desc[8300];       /* what was loaded, for -v and reports */
    char model_path[4096];       /* the model's folder or file, after resolving a repo id */
    judge_provenance prov;       /* with --out: what this run's results come from */
    struct cli_judge_devices *devs; /* --device 0,1 / all: the other devices and their pool
                                       (cli/judge_devices.h); NULL with one device */
    struct judge_stream *stream; /* classify reading standard input as it arrives (the run
                                    takes its items from here, not from a dataset), or NULL */
} cli_judge_session;

/* Opens the prompt, the --out file, the model (see the file comment: -m is
 * a folder, a .gguf or a repo id owner/name[@rev] from the Hugging Face
 * cache; without -m and $PHI3VK_MODEL the judge, with the tokenizer of its
 * base model unless --tokenizer is given), a context sized for the run's
 * items ds->items[idx[0..n)] (--ctx and --batch, else the longest prompt and
 * the device memory left) and the classifier. Prints the error and returns
 * -1; call cli_judge_close in any case. */
int cli_judge_open(const char *cmd, const cli_judge_args *a, const judge_dataset *ds, const int *idx, int n,
                   cli_judge_session *s);

/* Runs the classifier over ds->items[idx[0..n)] with judge_run (records:
 * CSV/TSV/hf output, or NULL): progress bar on stderr when it is a terminal,
 * Ctrl-C stops after the current batch, the summary line on stderr at the
 * end (neither with -q; with -v the token counts).
 * Returns judge_run's 0 / 1 (stopped) / -1 (error printed), or 3 when the
 * run finished but some items were skipped as too long (error results). */
int cli_judge_run(const char *cmd, const cli_judge_args *a, cli_judge_session *s, const judge_dataset *ds,
                  const int *idx, int n, FILE *jsonl, FILE *table, judge_output *records,
                  judge_run_result *results);

/* Resolves the model and tokenizer of a->model into m (a copy of a->model
 * with the paths filled in; mpath and tpath, len bytes each, hold them):
 * a folder or .gguf as it is; a repo id owner/name[@rev] from the Hugging
 * Face cache; without -m and $PHI3VK_MODEL the judge (downloaded on first
 * use unless offline) with its base model's tokenizer. label (label_len
 * bytes) names the model for reports (owner/name@commit or the real path).
 * Prints the error. */
int cli_judge_resolve_model(const char *cmd, const cli_judge_args *a, cli_model_args *m, char *mpath, char *tpath,
                            size_t len, char *label, size_t label_len);

/* The device fields of the provenance p: the device m->device names, its
 * profile and the kernels its self-test verdict runs in a fallback variant.
 * Prints the error. */
int cli_judge_provenance_device(const char *cmd, const cli_model_args *m, judge_provenance *p);

/* Frees the session. Returns 1 when closing the --out file failed or the
 * validation layer reported messages (both printed), else 0. */
int cli_judge_close(cli_judge_session *s);

#endif
