/* eval --predictions GLOB: the report from results files of earlier runs
 * (classify --out, one per shard) instead of running the model. Prints its
 * errors; only cli/ includes it. */
#ifndef PHI3VK_CLI_EVAL_PREDICTIONS_H
#define PHI3VK_CLI_EVAL_PREDICTIONS_H

#include "judge/dataset.h"
#include "judge/run.h"

/* Expands pattern (glob(3); quote it so the shell does not), reads the files
 * (judge/predictions.h: provenance agreement, shards, overlaps) and fills
 * results[i] for ds->items[idx[i]], i < n, checking that they cover those
 * items exactly once. Prints a note naming the files, the model and the
 * prompt on stderr. Prints the error and returns -1. */
int cli_eval_predictions(const char *cmd, const char *pattern, const judge_dataset *ds, const int *idx, int n,
                         judge_run_result *results);

#endif
