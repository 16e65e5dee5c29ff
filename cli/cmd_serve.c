/* phi3vk serve: the model as an HTTP service (OpenAI-compatible and
 * /v1/classify) until SIGTERM or Ctrl-C; the work is in serve/. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/device_list.h"
#include "cli/judge_common.h"
#include "serve/serve.h"

static const char *serve_usage =
    "usage: phi3vk serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--parallel N]\n"
    "                    [--ctx N] [--device 0,1|all] [options]\n"
    "\n"
    "Serves the model over HTTP, loading it once. -m as for classify (a folder, a .gguf, a repo id\n"
    "from the Hugging Face cache; default: the toxicity judge). The port is listened on at once;\n"
    "GET /health answers {\"status\":\"loading\"} (503) until the model is ready, then \"ok\".\n"
    "\n"
    "  POST /v1/classify           {\"texts\": [...]} or {\"items\": [{\"id\": ..., \"text\": ...}]}, optional\n"
    "                              \"reason\", \"prompt\" (a shipped prompt's name or a template with\n"
    "                              {text}), \"max_tokens\": one classify --jsonl record per item\n"
    "  POST /v1/chat/completions   OpenAI chat completions: messages (Phi-3's chat template),\n"
    "                              max_tokens, temperature (default 1; 0 = greedy), top_p, seed, stop,\n"
    "                              n=1, logprobs/top_logprobs (up to 20), stream (server-sent events);\n"
    "                              a forced function/tool call whose parameters are strings, one with\n"
    "                              an enum (Phoenix's llm_classify), is called with the enum value the\n"
    "                              reply names (see README, Function calls)\n"
    "  POST /v1/completions        OpenAI completions (prompt; max_tokens default 16; logprobs N)\n"
    "  GET  /v1/models             the model's name (--alias)\n"
    "  GET  /health                ok / loading / shutting down\n"
    "  GET  /metrics               Prometheus: requests, tokens, queue depth, batch sizes, latencies,\n"
    "                              device memory\n"
    "Concurrent requests share the engine's passes (continuous batching): each sequence of the\n"
    "context holds one text or completion, which joins at the next step and leaves when done.\n"
    "\n";
static const char *serve_options =
    "  --host ADDR           address to listen on (default 127.0.0.1: this machine only; 0.0.0.0\n"
    "                        for every interface, behind an API key or a proxy)\n"
    "  --port N              port (default 8080; 0 = any free port, printed on standard error)\n"
    "  --api-key KEY         require \"Authorization: Bearer KEY\" on every endpoint but /health\n"
    "                        (default: the environment variable PHI3VK_API_KEY)\n"
    "  --parallel N          sequences per device, 1..64: requests in flight at once (default: the\n"
    "                        engine's choice: 8 on a CPU device, 16 on a GPU, less if memory is short)\n"
    "  --queue N             items (texts, completions) that may wait for a sequence (default 256);\n"
    "                        beyond, requests are answered 503 with Retry-After\n"
    "  --max-body BYTES      largest request body (default 4194304; larger: 413)\n"
    "  --max-texts N         most texts in one classify request (default: --queue; more: 413)\n"
    "  --alias NAME          the model's name in /v1/models and responses (default: -m as given)\n"
    "  --prompt NAME         /v1/classify's default prompt (judge-card, judge-noreason,\n"
    "                        judge-reason, phoenix)\n"
    "  --shutdown-timeout S  on SIGTERM, seconds to finish the requests in flight (default 30)\n"
    "  --device 0,1|all      (model option) one engine per device; requests go to whichever has a\n"
    "                        free sequence\n"
    "  --no-download         never download the default model (also: HF_HUB_OFFLINE=1)\n"
    "\n";
static const char *serve_tail =
    "\n"
    "--ctx (tokens per sequence) defaults to the model's context, at most 4096. Requests past the\n"
    "limits answer 400 or 413 in OpenAI's error shape; no request can read a file or choose a model.\n"
    "SIGTERM or Ctrl-C: stop accepting, finish what is in flight, exit 0.\n";

typedef struct serve_args {
    cli_judge_args j;          /* -m and the model flags, resolved as classify does */
    const char *host, *api_key, *alias, *prompt;
    long long port, parallel, queue, max_body, max_texts;
    double shutdown_timeout;
} serve_args;

/* Parses argv; returns 0, 1 when --help was printed, or 2 for a usage error. */
static int parse_args(serve_args *a, int argc, char **argv) {
    const char *cmd = "serve";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        int r = cli_model_arg(&a->j.model, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(arg)) {
            fputs(serve_usage, stdout);
            fputs(serve_options, stdout);
            fputs(CLI_MODEL_HELP, stdout);
            fputs(serve_tail, stdout);
            return 1;
        } else if (!strcmp(arg, "--no-download")) a->j.no_download = 1;
        else if (cli_opt(cmd, argc, argv, &i, "--host", &v)) {
            if (!v) return 2;
            a->host = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--port", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 0, 65535, &a->port)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--api-key", &v)) {
            if (!v) return 2;
            a->api_key = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--parallel", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 1, 64, &a->parallel)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--queue", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 1, 1 << 20, &a->queue)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--max-body", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 1024, 1LL << 30, &a->max_body)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--max-texts", &v)) {
            if (!v || cli_parse_int(cmd, arg, v, 1, 1 << 20, &a->max_texts)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--alias", &v)) {
            if (!v) return 2;
            a->alias = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--prompt", &v)) {
            if (!v) return 2;
            a->prompt = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--shutdown-timeout", &v)) {
            if (!v || cli_parse_double(cmd, arg, v, 0, 86400, &a->shutdown_timeout)) return 2;
        } else {
            cli_error(cmd, "unexpected argument '%s' (see phi3vk serve --help)", arg);
            return 2;
        }
    }
    if (!a->api_key) a->api_key = getenv("PHI3VK_API_KEY");
    if (a->api_key && strlen(a->api_key) > 4096) {
        cli_error(cmd, "the API key is longer than 4096 bytes");
        return 2;
    }
    return 0;
}

/* Loads the model on every device and hands each to the server. */
static int load_models(const serve_args *a, srv_server *s, char *label, size_t label_len) {
    const char *cmd = "serve";
    static char mpath[4096], tpath[4096];
    cli_model_args m;
    cli_device_list list;
    eng_model *models[CLI_MAX_DEVICES];
    char err[2048];
    if (cli_judge_resolve_model(cmd, &a->j, &m, mpath, tpath, sizeof mpath, label, label_len) ||
        cli_device_list_parse(cmd, m.device, &list))
        return -1;
    int rc = cli_models_open(cmd, &m, &list, models);
    eng_plan_request r = {.n_ctx = m.n_ctx, .n_seq = (int)a->parallel, .decoding = 1};
    for (int i = 0; i < list.n; i++) {
        if (!models[i]) continue;
        if (rc) {
            eng_model_close(models[i]);
        } else if (srv_server_add_model(s, models[i], &r, err, sizeof err)) {
            cli_error(cmd, "device %s: %s", list.sel[i][0] ? list.sel[i] : "(default)", err);
            rc = -1;
        }
    }
    return rc;
}

int cmd_serve(int argc, char **argv) {
    const char *cmd = "serve";
    serve_args a = {.port = 8080, .shutdown_timeout = 30};
    int r = parse_args(&a, argc, argv);
    if (r) return r == 1 ? 0 : r;
    /* signals go to sigwait below, not to the server's threads */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[2048], label[4200];
    const char *spec = a.j.model.model ? a.j.model.model : getenv("PHI3VK_MODEL");
    srv_opts o = {
        .host = a.host,
        .port = (int)a.port,
        .api_key = a.api_key,
        .model_name = a.alias ? a.alias : spec && *spec ? spec : CLI_JUDGE_MODEL,
        .queue = (int)a.queue,
        .max_body = (size_t)a.max_body,
        .max_texts = (int)a.max_texts,
        .prompt = a.prompt,
        .no_bos = a.j.model.no_bos,
        .verbose = a.j.model.verbose,
    };
    srv_server *s = srv_server_start(&o, err, sizeof err);
    if (!s) {
        cli_error(cmd, "%s", err);
        return 1;
    }
    const char *shown = a.host ? a.host : "127.0.0.1";
    int v6 = strchr(shown, ':') != NULL;
    fprintf(stderr, "phi3vk serve: listening on http://%s%s%s:%d (loading the model)\n", v6 ? "[" : "", shown,
            v6 ? "]" : "", srv_server_port(s));
    int rc = 1;
    if (load_models(&a, s, label, sizeof label)) goto done;
    if (srv_server_ready(s, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    fprintf(stderr, "phi3vk serve: ready: %s on http://%s%s%s:%d/v1%s\n", label, v6 ? "[" : "", shown, v6 ? "]" : "",
            srv_server_port(s), a.api_key && *a.api_key ? " (API key required)" : "");
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    fprintf(stderr, "phi3vk serve: %s: finishing the requests in flight (at most %.0f s)\n",
            sig == SIGINT ? "interrupted" : "SIGTERM", a.shutdown_timeout);
    int cut = srv_server_drain(s, a.shutdown_timeout);
    if (cut) fprintf(stderr, "phi3vk serve: %d request%s cut off at the shutdown timeout\n", cut, cut == 1 ? "" : "s");
    rc = 0;
done:
    srv_server_destroy(s);
    fprintf(stderr, "phi3vk serve: stopped\n");
    return rc;
}
