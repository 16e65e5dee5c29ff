/* classify and eval on several devices (--device 0,1 or all): one model,
 * context and classifier per device and a judge_pool sharing the items
 * between them (judge/pool.h). cli/judge_common.c calls these at the points
 * where a one-device run opens, runs and closes its engine. Prints its
 * errors; only cli/ includes it. */
#ifndef PHI3VK_CLI_JUDGE_DEVICES_H
#define PHI3VK_CLI_JUDGE_DEVICES_H

#include "cli/judge_common.h"

/* When m->device lists several devices, stores the list in s->devs and
 * points m->device at the first (the device the one-device code opens);
 * else leaves both as they are. Prints the error and returns -1. */
int cli_judge_devices_parse(const char *cmd, cli_model_args *m, cli_judge_session *s);

/* The device fields of the provenance p for every device m->device names
 * (each field joined by "; ", kernel fallbacks as "D:name" with the device's
 * place D in the list); one device: cli_judge_provenance_device. Call before
 * cli_judge_devices_parse. Prints the error. */
int cli_judge_devices_provenance(const char *cmd, const cli_model_args *m, judge_provenance *p);

/* With several devices: opens the model on each (in parallel) into s->m
 * (the first) and s->devs (the others). Without: does nothing. Prints the
 * error and returns -1. */
int cli_judge_devices_open_models(const char *cmd, const cli_model_args *m, cli_judge_session *s);

/* With several devices, after the first device's context and classifier
 * exist: a context of the same plan request r and a classifier of options co
 * on every other device, and the pool. Prints the error and returns -1. */
int cli_judge_devices_start(const char *cmd, const cli_model_args *m, const eng_plan_request *r,
                            const judge_classifier_opts *co, cli_judge_session *s);

/* The classify callback of a run, its user pointer and its batch: the pool
 * with several devices, else s->cl with the context's sequences. */
void cli_judge_devices_fn(const cli_judge_session *s, judge_classify_fn *fn, void **user, int *batch);

/* With -v: items per device and the items run again on a faster device. */
void cli_judge_devices_report(const char *cmd, const cli_judge_session *s);

/* Stops the pool and frees every device but the first (s->m, s->c, s->cl
 * stay for cli_judge_close). Returns 1 when a device's validation layer
 * reported messages, else 0. */
int cli_judge_devices_close(cli_judge_session *s);

#endif
