/* eval --predictions; see eval_predictions.h. */
#include "cli/eval_predictions.h"

#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "judge/predictions.h"

int cli_eval_predictions(const char *cmd, const char *pattern, const judge_dataset *ds, const int *idx, int n,
                         judge_run_result *results) {
    glob_t g;
    int r = glob(pattern, GLOB_ERR, NULL, &g);
    if (r == GLOB_NOMATCH || (r == 0 && g.gl_pathc == 0)) {
        cli_error(cmd, "--predictions %s: no file matches", pattern);
        if (r == 0) globfree(&g);
        return -1;
    }
    if (r) {
        cli_error(cmd, "--predictions %s: %s", pattern, r == GLOB_NOSPACE ? "out of memory" : "cannot read a folder");
        return -1;
    }
    char err[4096], devices[2048];
    judge_predictions *p = judge_predictions_load((const char *const *)g.gl_pathv, (int)g.gl_pathc, err, sizeof err);
    int rc = -1;
    if (!p) cli_error(cmd, "--predictions: %s", err);
    else if (judge_predictions_cover(p, ds, idx, n, results, err, sizeof err))
        cli_error(cmd, "--predictions %s against %s: %s", pattern, ds->source, err);
    else {
        const judge_provenance *pv = judge_predictions_provenance(p);
        judge_predictions_devices(p, devices, sizeof devices);
        fprintf(stderr, "phi3vk %s: %d results from %zu file%s", cmd, n, g.gl_pathc, g.gl_pathc == 1 ? "" : "s");
        if (pv)
            fprintf(stderr, ": model %s, prompt %s, %s%s%s", pv->model, pv->prompt, pv->mode,
                    devices[0] ? ", devices " : "", devices);
        fputc('\n', stderr);
        rc = 0;
    }
    judge_predictions_destroy(p);
    globfree(&g);
    return rc;
}
