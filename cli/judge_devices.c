/* classify and eval with one engine per device; see judge_devices.h. */
#include "cli/judge_devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/device_list.h"
#include "judge/pool.h"

struct cli_judge_devices {
    cli_device_list list;
    int n;                                  /* devices; [0] lives in the session (s->m, s->c, s->cl) */
    eng_model *m[CLI_MAX_DEVICES];
    eng_ctx *c[CLI_MAX_DEVICES];
    judge_classifier *cl[CLI_MAX_DEVICES];
    judge_pool *pool;
};

int cli_judge_devices_parse(const char *cmd, cli_model_args *m, cli_judge_session *s) {
    cli_device_list list;
    if (cli_device_list_parse(cmd, m->device, &list)) return -1;
    if (list.n < 2) return 0;
    if (!(s->devs = calloc(1, sizeof *s->devs))) {
        cli_error(cmd, "out of memory");
        return -1;
    }
    s->devs->list = list;
    s->devs->n = list.n;
    m->device = s->devs->list.sel[0];
    return 0;
}

/* Appends "; " (after the first) and s to the field f of size n. */
static void join(char *f, size_t n, int first, const char *s) {
    size_t at = first ? 0 : strlen(f);
    snprintf(f + at, n - at, "%s%s", first ? "" : "; ", s);
}

int cli_judge_devices_provenance(const char *cmd, const cli_model_args *m, judge_provenance *p) {
    cli_device_list list;
    if (cli_device_list_parse(cmd, m->device, &list)) return -1;
    if (list.n < 2) return cli_judge_provenance_device(cmd, m, p);
    judge_provenance all = *p, one;
    all.n_kernel_fallbacks = 0;
    for (int i = 0; i < list.n; i++) {
        cli_model_args d = *m;
        d.device = list.sel[i];
        one = *p;
        if (cli_judge_provenance_device(cmd, &d, &one)) return -1;
        join(all.device, sizeof all.device, i == 0, one.device);
        join(all.driver, sizeof all.driver, i == 0, one.driver);
        join(all.vendor, sizeof all.vendor, i == 0, one.vendor);
        join(all.device_profile, sizeof all.device_profile, i == 0, one.device_profile);
        for (int k = 0; k < one.n_kernel_fallbacks && all.n_kernel_fallbacks < JUDGE_PROV_MAX_FALLBACKS; k++)
            snprintf(all.kernel_fallbacks[all.n_kernel_fallbacks++], sizeof all.kernel_fallbacks[0], "%d:%.50s", i,
                     one.kernel_fallbacks[k]);
    }
    *p = all;
    return 0;
}

int cli_judge_devices_open_models(const char *cmd, const cli_model_args *m, cli_judge_session *s) {
    struct cli_judge_devices *d = s->devs;
    if (!d) return 0;
    eng_model *models[CLI_MAX_DEVICES];
    int rc = cli_models_open(cmd, m, &d->list, models);
    s->m = models[0];
    for (int i = 1; i < d->n; i++) d->m[i] = models[i];
    return rc;
}

int cli_judge_devices_start(const char *cmd, const cli_model_args *m, const eng_plan_request *r,
                            const judge_classifier_opts *co, cli_judge_session *s) {
    struct cli_judge_devices *d = s->devs;
    char err[2048];
    if (!d) return 0;
    d->m[0] = s->m;
    d->c[0] = s->c;
    d->cl[0] = s->cl;
    for (int i = 1; i < d->n; i++) {
        if (!(d->c[i] = cli_ctx_create(cmd, d->m[i], m, r))) return -1;
        if (!(d->cl[i] = judge_classifier_create(d->m[i], d->c[i], s->prompt, co, err, sizeof err))) {
            cli_error(cmd, "device %s: %s", d->list.sel[i], err);
            return -1;
        }
        if (m->verbose)
            fprintf(stderr, "phi3vk %s: device %s: %d sequence%s x %d tokens\n", cmd, d->list.sel[i],
                    eng_ctx_n_seq(d->c[i]), eng_ctx_n_seq(d->c[i]) == 1 ? "" : "s", eng_ctx_n_ctx(d->c[i]));
    }
    if (!(d->pool = judge_pool_create(d->cl, d->n, err, sizeof err))) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}

void cli_judge_devices_fn(const cli_judge_session *s, judge_classify_fn *fn, void **user, int *batch) {
    if (s->devs && s->devs->pool) {
        *fn = judge_pool_classify;
        *user = s->devs->pool;
        *batch = judge_pool_batch(s->devs->pool);
        return;
    }
    *fn = judge_classify_batch;
    *user = s->cl;
    *batch = s->c ? eng_ctx_n_seq(s->c) : 1;
}

void cli_judge_devices_report(const char *cmd, const cli_judge_session *s) {
    if (!s->devs || !s->devs->pool) return;
    judge_pool_stats st = judge_pool_get_stats(s->devs->pool);
    fprintf(stderr, "phi3vk %s: items per device:", cmd);
    for (int i = 0; i < st.n; i++)
        fprintf(stderr, "%s %s: %lld", i ? "," : "", s->devs->list.sel[i], st.items[i]);
    fprintf(stderr, "; %lld run again on a faster device (%lld of those finished first)\n", st.backups,
            st.backups_won);
}

int cli_judge_devices_close(cli_judge_session *s) {
    struct cli_judge_devices *d = s->devs;
    int rc = 0;
    if (!d) return 0;
    judge_pool_destroy(d->pool);
    for (int i = 1; i < d->n; i++) {
        judge_classifier_destroy(d->cl[i]);
        if (cli_model_close(d->m[i], d->c[i])) rc = 1;
    }
    free(d);
    s->devs = NULL;
    return rc;
}
