/* --device lists; see device_list.h. */
#include "cli/device_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "vk/vkr.h"

/* Adds the device that selector s[0, n) names, by its index, so that two
 * selectors naming one device are caught. */
static int add(const char *cmd, cli_device_list *o, const vkr_device_info *devs, int n_devs, const char *s, size_t n) {
    char sel[64], err[1024];
    if (n == 0 || n >= sizeof sel) {
        cli_error(cmd, "--device: %s item in the list", n ? "an overlong" : "an empty");
        return -1;
    }
    if (o->n == CLI_MAX_DEVICES) {
        cli_error(cmd, "--device: more than %d devices", CLI_MAX_DEVICES);
        return -1;
    }
    memcpy(sel, s, n);
    sel[n] = 0;
    int idx = vkr_devices_match(devs, n_devs, sel, err, sizeof err);
    if (idx < 0) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    snprintf(o->sel[o->n], sizeof o->sel[0], "%d", idx);
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->sel[i], o->sel[o->n])) {
            cli_error(cmd, "--device: device %d (%s) is named twice (one engine per device)", idx, devs[idx].name);
            return -1;
        }
    o->n++;
    return 0;
}

int cli_device_list_parse(const char *cmd, const char *spec, cli_device_list *out) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec || (strcmp(spec, "all") && !strchr(spec, ','))) { /* one device, as --device always was */
        out->n = 1;
        snprintf(out->sel[0], sizeof out->sel[0], "%s", spec ? spec : "");
        return 0;
    }
    vkr_device_info *devs;
    int n_devs, rc = 0;
    char err[1024], num[16];
    if (vkr_devices_list(&devs, &n_devs, err, sizeof err)) {
        cli_error(cmd, "--device %s: %s", spec, err);
        return -1;
    }
    if (!strcmp(spec, "all")) {
        for (int i = 0; i < n_devs && !rc; i++) rc = add(cmd, out, devs, n_devs, num, (size_t)snprintf(num, sizeof num, "%d", i));
    } else {
        for (const char *p = spec; !rc;) {
            const char *comma = strchr(p, ',');
            rc = add(cmd, out, devs, n_devs, p, comma ? (size_t)(comma - p) : strlen(p));
            if (!comma) break;
            p = comma + 1;
        }
    }
    free(devs);
    return rc;
}

typedef struct loader {
    const char *cmd;
    cli_model_args m;
    vkr_ctx *vk;
    eng_model *model;
    pthread_t th;
} loader;

static void *load_main(void *arg) {
    loader *l = arg;
    l->model = cli_model_load(l->cmd, &l->m, l->vk, 1);
    return NULL;
}

int cli_models_open(const char *cmd, const cli_model_args *m, const cli_device_list *list, eng_model **out) {
    loader l[CLI_MAX_DEVICES];
    int started[CLI_MAX_DEVICES] = {0}, rc = 0;
    for (int i = 0; i < list->n; i++) out[i] = NULL;
    if (list->n == 1) {
        cli_model_args one = *m;
        one.device = list->sel[0][0] ? list->sel[0] : m->device;
        return (out[0] = cli_model_open(cmd, &one, 1)) ? 0 : -1;
    }
    for (int i = 0; i < list->n; i++) {
        l[i] = (loader){.cmd = cmd, .m = *m};
        l[i].m.device = list->sel[i];
        if (!(l[i].vk = cli_vk_open(cmd, l[i].m.device, m->device_profile, m->validate, m->verbose, m->no_self_test,
                                    0))) {
            for (int j = 0; j < i; j++) vkr_ctx_destroy(l[j].vk);
            return -1;
        }
    }
    for (int i = 0; i < list->n; i++) {
        started[i] = pthread_create(&l[i].th, NULL, load_main, &l[i]) == 0;
        if (!started[i]) load_main(&l[i]);
    }
    for (int i = 0; i < list->n; i++) {
        if (started[i]) pthread_join(l[i].th, NULL);
        if (!(out[i] = l[i].model)) rc = -1;
    }
    return rc;
}
