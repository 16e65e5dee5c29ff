/* judge runs: the loop that classify and eval share, independent of how an
 * item is classified. It takes the chosen items of a dataset, skips those
 * whose ids an output file already has (resume), hands the rest to a
 * classifier callback in batches, and writes each batch's results to the
 * output file, to a JSONL or table stream, and into the progress bar.
 *
 * The engine plugs in as the callback; everything else (resume, output,
 * progress, Ctrl-C) lives here and is tested without a model. */
#ifndef PHI3VK_JUDGE_RUN_H
#define PHI3VK_JUDGE_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "judge/dataset.h"
#include "judge/output.h"
#include "judge/results.h"

/* Classifies items[0, n) (n <= the batch size). For each i fills out[i]:
 * label, p_toxic (NaN if not computed), reason (malloc'ed, the run frees it;
 * NULL when not requested), prompt_tokens, and ms (<= 0: the run divides the
 * batch's wall time evenly). out[i].id is set by the run. Returns 0, or -1
 * with a message (the run stops; earlier batches stay written). */
typedef int (*judge_classify_fn)(void *user, const judge_item *const *items, int n, judge_result *out, char *err,
                                 size_t errlen);

typedef struct judge_run_opts {
    int batch;                          /* items per callback, >= 1 */
    judge_results *out;                 /* resumable output file, or NULL */
    FILE *jsonl;                        /* stream for JSONL lines (--jsonl), or NULL */
    FILE *table;                        /* stream for the readable table, or NULL */
    FILE *progress;                     /* terminal for the progress bar, or NULL */
    volatile sig_atomic_t *stop;        /* set (e.g. by a SIGINT handler) to stop
                                           after the current batch; may be NULL */
    judge_output *records;              /* CSV, TSV or hf records (judge/output.h), or NULL; begun
                                           and ended by the run. Unlike jsonl and table it also gets
                                           the results resumed from out, in input order */
} judge_run_opts;

/* The results of a run, one per chosen item, in the order of idx; items the
 * output file already had are copied from it (resumed = 1). */
typedef struct judge_run_result {
    judge_result r;     /* id points into the dataset; reason owned */
    int resumed;        /* 1 when read back from the output file */
    int done;           /* 0 when the run stopped before this item */
} judge_run_result;

/* Runs fn over ds->items[idx[i]] for i < n. Every record written carries
 * the item's kept columns (ds->n_keep). results (n entries, zeroed by
 * the run) receives every item's result; free their reasons with
 * judge_run_results_free. prog is started here (total = items not resumed)
 * and holds the counts for the summary. Returns 0 when every item is done,
 * 1 when *stop ended the run early, -1 with a message on a failure of fn
 * or of the output file. */
int judge_run(const judge_dataset *ds, const int *idx, int n, judge_classify_fn fn, void *user,
              const judge_run_opts *opts, judge_run_result *results, judge_progress *prog, char *err, size_t errlen);

/* 1 when out (may be NULL) already holds a result for item that a run
 * keeps: one for the same text (text_sha256) that is not an error. Such
 * items are resumed; the others run. */
int judge_run_is_done(const judge_results *out, const judge_item *item);

/* Writes one finished result everywhere o sends results: the output file
 * (unless it holds exactly this error already), the JSONL stream and the
 * table (id column id_width wide). Used by judge_run and by runs that take
 * their items as they arrive (judge/stream.h). 0, or -1 with err. */
int judge_run_emit(const judge_run_opts *o, const judge_item *item, const judge_result *res, int id_width, char *err,
                   size_t errlen);
/* Flushes o's outputs (the JSONL stream, the table, the records file) after a
 * batch of results, so a reader following them (tail -f, a pipeline) sees each
 * batch as it is written. */
void judge_run_flush(const judge_run_opts *o);

/* Frees the reasons held by results[0, n). */
void judge_run_results_free(judge_run_result *results, int n);

/* One row of the readable table: id, label, P(toxic) with 4 decimals ("-"
 * when not computed), and the first ~60 columns of the text on one line
 * (control characters shown as spaces, cut on a UTF-8 boundary, "..." when
 * cut); with a reason, a second line "    reason: ...". id_width pads the id
 * column. Writes at most len bytes including the NUL. */
void judge_table_row(const judge_item *item, const judge_result *res, int id_width, char *buf, size_t len);

/* The table's header line for the same id width. */
void judge_table_header(int id_width, char *buf, size_t len);

#endif
