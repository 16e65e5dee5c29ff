/* phi3vk generate: prompt -> streamed continuation, greedy on the device or
 * sampled on the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "engine/sample.h"
#include "tokenizer/tok.h"
#include "util/time.h"

static const char *generate_usage =
    "usage: phi3vk generate -m MODEL (-p PROMPT | -f FILE) [--chat [--system TEXT]] [-n N]\n"
    "                       [--temp T] [--top-k K] [--top-p P] [--min-p M] [--repeat-penalty R]\n"
    "                       [--repeat-last-n N] [-s|--seed S] [--ids] [model options]\n"
    "\n"
    "Continues PROMPT and prints the new text on standard output as it is produced. Generation\n"
    "stops at one of the model's stop tokens (generation_config.json eos_token_id, e.g. <|end|>),\n"
    "after -n tokens, or when the context (--ctx) is full; the stop token itself is not printed.\n"
    "Sampling follows llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05);\n"
    "--temp 0 is greedy decoding, with the argmax computed on the device.\n"
    "\n"
    "  -p, --prompt TEXT     the prompt\n"
    "  -f, --file FILE       read the prompt from FILE ('-' = standard input)\n"
    "  --chat                wrap the prompt as one user message of Phi-3's chat template\n"
    "                        (<|user|>\\nPROMPT<|end|>\\n<|assistant|>\\n) and print only the reply;\n"
    "                        without --chat the output continues the prompt text (a leading\n"
    "                        space is kept)\n"
    "  --system TEXT         with --chat: a system message first\n"
    "  -n, --max-tokens N    generate at most N tokens (default -1: until a stop token or a full\n"
    "                        context)\n"
    "  --temp T              temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K             keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P             keep the smallest set with probability mass >= P (default 0.95;\n"
    "                        1 = off)\n"
    "  --min-p M             drop tokens less likely than M x the most likely (default 0.05;\n"
    "                        0 = off)\n"
    "  --repeat-penalty R    divide the logits of tokens seen in the last --repeat-last-n (prompt\n"
    "                        included) by R (default 1 = off; Hugging Face's rule)\n"
    "  --repeat-last-n N     window of the penalty (default 64)\n"
    "  -s, --seed S          sampling seed (default: random, printed with -v); the same seed,\n"
    "                        prompt and options give the same output\n"
    "  --ids                 print the generated token ids (space separated, a final stop id\n"
    "                        included) instead of text\n"
    "\n";
static const char *generate_tail =
    "\n"
    "--ctx defaults to the model's context, at most 4096. A prompt longer than --ctx is an error\n"
    "(exit code 1); reaching --ctx while generating ends the output with a message on stderr\n"
    "(exit code 0, as for -n). With -v, prompt and generation speeds are printed at the end.\n";

typedef struct gen_args {
    cli_model_args model;
    const char *prompt, *file, *system;
    int chat, ids;
    long long n_predict;          /* < 0: unlimited */
    eng_sampler_opts sampling;
    int seed_given;
} gen_args;

static int parse_seed(const char *v, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-') {
        cli_error("generate", "--seed: expected an integer in [0, 2^64), found '%s'", v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Parses argv; returns 0, 1 when --help was printed, or 2 for a usage error. */
static int parse_args(gen_args *g, int argc, char **argv) {
    const char *cmd = "generate";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        double d;
        long long x;
        int r = cli_model_arg(&g->model, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(a)) {
            fputs(generate_usage, stdout);
            fputs(CLI_MODEL_HELP, stdout);
            fputs(generate_tail, stdout);
            return 1;
        } else if (!strcmp(a, "--chat")) g->chat = 1;
        else if (!strcmp(a, "--ids")) g->ids = 1;
        else if (cli_opt(cmd, argc, argv, &i, "-p", &v) || cli_opt(cmd, argc, argv, &i, "--prompt", &v)) {
            if (!v) return 2;
            g->prompt = v;
        } else if (cli_opt(cmd, argc, argv, &i, "-f", &v) || cli_opt(cmd, argc, argv, &i, "--file", &v)) {
            if (!v) return 2;
            g->file = v;
        } else if (cli_opt(cmd, argc, argv, &i, "--system", &v)) {
            if (!v) return 2;
            g->system = v;
        } else if (cli_opt(cmd, argc, argv, &i, "-n", &v) || cli_opt(cmd, argc, argv, &i, "--max-tokens", &v)) {
            if (!v || cli_parse_int(cmd, a, v, -1, 1 << 30, &g->n_predict)) return 2;
        } else if (cli_opt(cmd, argc, argv, &i, "--temp", &v)) {
            if (!v || cli_parse_double(cmd, a, v, 0, 100, &d)) return 2;
            g->sampling.temp = (float)d;
        } else if (cli_opt(cmd, argc, argv, &i, "--top-k", &v)) {
            if (!v || cli_parse_int(cmd, a, v, 0, 1 << 30, &x)) return 2;
            g->sampling.top_k = (int)x;
        } else if (cli_opt(cmd, argc, argv, &i, "--top-p", &v)) {
            if (!v || cli_parse_double(cmd, a, v, 0, 1, &d)) return 2;
            if (d == 0) {
                cli_error(cmd, "--top-p: expected a number in (0, 1], found '%s' (1 turns it off)", v);
                return 2;
            }
            g->sampling.top_p = (float)d;
        } else if (cli_opt(cmd, argc, argv, &i, "--min-p", &v)) {
            if (!v || cli_parse_double(cmd, a, v, 0, 1, &d)) return 2;
            g->sampling.min_p = (float)d;
        } else if (cli_opt(cmd, argc, argv, &i, "--repeat-penalty", &v)) {
            if (!v || cli_parse_double(cmd, a, v, 0.01, 100, &d)) return 2;
            g->sampling.repeat_penalty = (float)d;
        } else if (cli_opt(cmd, argc, argv, &i, "--repeat-last-n", &v)) {
            if (!v || cli_parse_int(cmd, a, v, 1, 1 << 20, &x)) return 2;
            g->sampling.repeat_last_n = (int)x;
        } else if (cli_opt(cmd, argc, argv, &i, "--seed", &v) || cli_opt(cmd, argc, argv, &i, "-s", &v)) {
            if (!v || parse_seed(v, &g->sampling.seed)) return 2;
            g->seed_given = 1;
        } else {
            cli_error(cmd, "unexpected argument '%s' (see phi3vk generate --help)", a);
            return 2;
        }
    }
    if (!g->prompt == !g->file) {
        cli_error(cmd, g->prompt ? "-p and -f both given: pass the prompt one way" : "missing -p PROMPT or -f FILE");
        return 2;
    }
    if (g->system && !g->chat) {
        cli_error(cmd, "--system needs --chat");
        return 2;
    }
    return 0;
}

/* Prints tokens as they come: ids, or text through the streaming decoder. */
typedef struct emitter {
    int ids;
    int count;            /* ids printed */
    tok_stream *stream;
} emitter;

static int emit(emitter *e, int32_t id, int is_stop) {
    if (e->ids) {
        printf(e->count++ ? " %d" : "%d", id);
    } else if (!is_stop) {
        char err[256];
        size_t len;
        const char *s = tok_stream_push(e->stream, id, &len, err, sizeof err);
        if (!s) {
            cli_error("generate", "%s", err);
            return -1;
        }
        fwrite(s, 1, len, stdout);
    }
    return fflush(stdout) ? -1 : 0;
}

static int is_stop(const phi3_config *cfg, int32_t id) {
    for (int i = 0; i < cfg->n_stop; i++)
        if (cfg->stop_ids[i] == id) return 1;
    return 0;
}

/* Runs prefill + the decode loop. Returns 0 or 1 (exit code). */
static int generate(const gen_args *g, eng_model *m, eng_ctx *c, const tok_ids *prompt, emitter *e) {
    const phi3_config *cfg = eng_model_config(m);
    char err[2048];
    int greedy = eng_sampler_is_greedy(&g->sampling), n_ctx = eng_ctx_n_ctx(c);
    eng_sampler *s = eng_sampler_create(&g->sampling, cfg->vocab);
    if (!s) {
        cli_error("generate", "out of memory");
        return 1;
    }
    for (size_t i = 0; i < prompt->n; i++) eng_sampler_accept(s, prompt->ids[i]);
    double t0 = util_now_s();
    eng_output out;
    if (eng_step(c, &(eng_input){.seq = 0, .tokens = prompt->ids, .n = (int)prompt->n, .want = greedy ? 0 : ENG_LOGITS},
                 1, &out, err, sizeof err)) {
        cli_error("generate", "%s", err);
        eng_sampler_destroy(s);
        return 1;
    }
    double t1 = util_now_s();
    int n_gen = 0, steps = 0, rc = 0;
    const char *why = "";
    if (g->n_predict != 0) {
        int32_t tok = greedy ? out.argmax : eng_sampler_sample(s, out.logits); /* greedy: the device's argmax */
        eng_sampler_accept(s, tok);
        n_gen = 1;
        if (emit(e, tok, is_stop(cfg, tok))) goto write_fail;
        for (;;) {
            if (is_stop(cfg, tok)) {
                why = "stop token";
                break;
            }
            if (g->n_predict > 0 && n_gen >= g->n_predict) {
                why = "-n reached";
                break;
            }
            if (eng_seq_len(c, 0) >= n_ctx) {
                why = "context full";
                break;
            }
            /* greedy: only the device's argmax comes back (4 bytes) */
            int32_t next = 0;
            int bad = eng_step(c, &(eng_input){.seq = 0, .tokens = &tok, .n = 1, .want = greedy ? 0 : ENG_LOGITS}, 1,
                               &out, err, sizeof err);
            if (!bad) next = greedy ? out.argmax : eng_sampler_sample(s, out.logits);
            if (bad) {
                cli_error("generate", "%s", err);
                rc = 1;
                break;
            }
            steps++;
            eng_sampler_accept(s, next);
            tok = next;
            n_gen++;
            if (emit(e, tok, is_stop(cfg, tok))) goto write_fail;
        }
    }
    double t2 = util_now_s();
    size_t len = 0;
    const char *tail = e->stream ? tok_stream_flush(e->stream, &len) : "";
    fwrite(tail, 1, len, stdout);
    if (putchar('\n') == EOF) goto write_fail;
    if (fflush(stdout)) goto write_fail;
    if (!strcmp(why, "context full")) /* after the output, so it is not cut in two */
        fprintf(stderr, "phi3vk generate: context full: --ctx %d holds the prompt (%zu tokens) and %d generated tokens; "
                        "stopped after %d generated tokens (a larger --ctx allows more, up to the model's %d)\n",
                n_ctx, prompt->n, n_ctx - (int)prompt->n, n_gen, cfg->max_pos);
    if (g->model.verbose) {
        fprintf(stderr, "phi3vk: prompt: %zu tokens in %.3f s (%.2f tokens/s)\n", prompt->n, t1 - t0,
                prompt->n / (t1 - t0));
        fprintf(stderr, "phi3vk: generation: %d tokens (%d decode steps, %s) in %.3f s (%.2f tokens/s); ended by %s\n",
                n_gen, steps, greedy ? "greedy on the device" : "sampled on the host", t2 - t1,
                steps > 0 ? steps / (t2 - t1) : 0.0, *why ? why : "an error");
    }
    eng_sampler_destroy(s);
    return rc;
write_fail:
    fprintf(stderr, "phi3vk generate: writing standard output failed\n");
    eng_sampler_destroy(s);
    return 1;
}

int cmd_generate(int argc, char **argv) {
    gen_args g = {
        .n_predict = -1,
        .sampling = {.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
                     .repeat_last_n = 64},
    };
    int r = parse_args(&g, argc, argv);
    if (r) return r == 1 ? 0 : r;
    if (!g.seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g.sampling.seed = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
    }
    size_t len = 0;
    char *file_text = NULL;
    const char *text = g.prompt;
    if (g.file) {
        if (!(file_text = cli_read_text("generate", g.file, &len))) return 1;
        text = file_text;
    } else {
        len = strlen(text);
    }
    eng_model *m = cli_model_open("generate", &g.model, 1);
    eng_ctx *c = NULL;
    tok_ids prompt = {0};
    emitter e = {.ids = g.ids};
    int rc = 1;
    if (!m || cli_encode_prompt("generate", m, &g.model, text, len, g.chat, g.system, &prompt)) goto done;
    if (prompt.n == 0) {
        cli_error("generate", "the prompt is empty (and --no-bos leaves no token to start from)");
        goto done;
    }
    if (!(c = cli_ctx_create("generate", m, &g.model, &(eng_plan_request){.n_ctx = g.model.n_ctx, .n_seq = 1}))) goto done;
    if (prompt.n > (size_t)eng_ctx_n_ctx(c)) {
        cli_error("generate", "the prompt has %zu tokens, more than --ctx %d: pass a larger --ctx (the model allows "
                              "%d) or a shorter prompt", prompt.n, eng_ctx_n_ctx(c), eng_model_config(m)->max_pos);
        goto done;
    }
    if (!g.ids) {
        e.stream = tok_stream_create(eng_model_tokenizer(m), g.chat ? 0 : TOK_DECODE_KEEP_LEADING_SPACE);
        if (!e.stream) {
            cli_error("generate", "out of memory");
            goto done;
        }
    }
    if (g.model.verbose && !eng_sampler_is_greedy(&g.sampling))
        fprintf(stderr, "phi3vk: sampling with --seed %llu\n", (unsigned long long)g.sampling.seed);
    rc = generate(&g, m, c, &prompt, &e);
done:
    tok_stream_destroy(e.stream);
    tok_ids_free(&prompt);
    free(file_text);
    if (cli_model_close(m, c)) rc = 1;
    return rc;
}
