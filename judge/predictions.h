/* judge predictions: results files of earlier runs (classify --out, often
 * one per shard: classify --shard K/N) read back, so that eval computes its
 * report without running the model (eval --predictions 'out-*.jsonl').
 *
 * Every file is read, never changed (a run may be resumed later). Each
 * result line belongs to the provenance line above it; a file must start
 * with one. Within a file a later line of an id replaces an earlier one (as
 * a resumed run writes them). Across the files:
 *   - the provenance lines agree on everything but the shard and the device
 *     fields (device, driver, vendor, device_profile, kernel_fallbacks: the
 *     shards of a job may run on different machines); otherwise the error
 *     lists what differs and in which files;
 *   - the shards are of one N, and every result's id belongs to the shard
 *     (judge/shard.h) its provenance names;
 *   - no id is in two files.
 * judge_predictions_cover then checks them against the labelled items: each
 * chosen item has exactly one result, made for the same text (text_sha256),
 * and no result is for an id the labelled file does not have. */
#ifndef PHI3VK_JUDGE_PREDICTIONS_H
#define PHI3VK_JUDGE_PREDICTIONS_H

#include <stddef.h>

#include "judge/dataset.h"
#include "judge/provenance.h"
#include "judge/run.h"

typedef struct judge_predictions judge_predictions;

/* Reads the n files paths[0, n) as the file comment says. NULL with a
 * message naming the file and line (or the files that disagree). */
judge_predictions *judge_predictions_load(const char *const *paths, int n, char *err, size_t errlen);

/* The same from n buffers in memory (names used in messages): for tests
 * and the fuzz target. */
judge_predictions *judge_predictions_parse(const char *const *bufs, const size_t *lens, const char *const *names, int n,
                                           char *err, size_t errlen);

/* Frees (NULL is fine). */
void judge_predictions_destroy(judge_predictions *p);

/* Results read (one per id). */
int judge_predictions_count(const judge_predictions *p);

/* The provenance the files agree on (that of the first file, shard and
 * devices as written there). */
const judge_provenance *judge_predictions_provenance(const judge_predictions *p);

/* The distinct device descriptions the files name ("name (driver)"), joined
 * by "; ", into buf. */
void judge_predictions_devices(const judge_predictions *p, char *buf, size_t len);

/* Fills results[i] (zeroed first; reasons and errors copied: free with
 * judge_run_results_free) with the result of ds->items[idx[i]] for every
 * i < n, done = 1 and resumed = 1. Fails naming the ids (up to 10, and how
 * many) that have no result, whose result was made for another text, or
 * that the predictions hold but ds does not. */
int judge_predictions_cover(const judge_predictions *p, const judge_dataset *ds, const int *idx, int n,
                            judge_run_result *results, char *err, size_t errlen);

#endif
