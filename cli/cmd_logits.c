/* phi3vk logits: the float32 logits of every position as a NumPy .npy
 * array [positions, vocab], for comparing with other implementations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "tokenizer/tok.h"
#include "util/time.h"

static const char *logits_usage =
    "usage: phi3vk logits -m MODEL (--tokens IDS | -p TEXT) --out FILE.npy [model options]\n"
    "\n"
    "Runs the tokens through the model in one pass and writes the logits of every position\n"
    "as a NumPy .npy file (format 1.0): float32, little-endian, C order, shape [positions,\n"
    "vocab]; row i holds the scores of the token after position i. Load it with numpy.load.\n"
    "\n"
    "  --tokens IDS       token ids, separated by commas (e.g. 1,15043,3186); used as given\n"
    "                     (no BOS is added)\n"
    "  -p, --prompt TEXT  encode TEXT with the model's tokenizer (BOS first unless --no-bos)\n"
    "  -o, --out FILE     the .npy file to write (overwritten); '-' writes it to standard output\n"
    "\n";
static const char *logits_tail =
    "\n"
    "--ctx defaults to the number of positions.\n";

/* Writes logits [rows, cols] as .npy 1.0 to path ("-": standard output).
 * The header is the magic "\x93NUMPY", version 1.0, a little-endian uint16
 * header length, then a Python dict literal padded with spaces and ended by
 * '\n' so that the data starts at a multiple of 64 bytes. Returns 0 or -1
 * with err. */
static int write_npy(const char *path, const float *data, int rows, int cols, char *err, size_t errlen) {
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    size_t total = 10 + (size_t)dl + 1;   /* magic 6 + version 2 + length 2 + dict + '\n' */
    total = (total + 63) / 64 * 64;
    size_t hlen = total - 10;
    unsigned char head[192];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xFF);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)dl);
    memset(head + 10 + dl, ' ', hlen - (size_t)dl - 1);
    head[total - 1] = '\n';
    int to_stdout = cli_is_stdout(path);
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    int ok = fwrite(head, 1, total, f) == total;
    /* '<f4' is little-endian: write the bytes explicitly so that a big-endian
     * host writes the same file. */
    unsigned char buf[4096];
    size_t n = (size_t)rows * cols, used = 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        for (int b = 0; b < 4; b++) buf[used++] = (unsigned char)(u >> (8 * b));
        if (used == sizeof buf || i + 1 == n) {
            ok = fwrite(buf, 1, used, f) == used;
            used = 0;
        }
    }
    if (to_stdout ? fflush(f) != 0 || ferror(f) : fclose(f) != 0) ok = 0;
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", to_stdout ? "standard output" : path, strerror(errno));
        if (!to_stdout) remove(path);
        return -1;
    }
    return 0;
}

int cmd_logits(int argc, char **argv) {
    const char *cmd = "logits", *tokens = NULL, *prompt = NULL, *out = NULL;
    cli_model_args a = {0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = cli_model_arg(&a, cmd, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is_help(argv[i])) {
            fputs(logits_usage, stdout);
            fputs(CLI_MODEL_HELP, stdout);
            fputs(logits_tail, stdout);
            return 0;
        } else if (cli_opt(cmd, argc, argv, &i, "--tokens", &v)) {
            if (!v) return 2;
            tokens = v;
        } else if (cli_opt(cmd, argc, argv, &i, "-p", &v) || cli_opt(cmd, argc, argv, &i, "--prompt", &v)) {
            if (!v) return 2;
            prompt = v;
        } else if (cli_opt(cmd, argc, argv, &i, "-o", &v) || cli_opt(cmd, argc, argv, &i, "--out", &v)) {
            if (!v) return 2;
            out = v;
        } else {
            cli_error(cmd, "unexpected argument '%s' (see phi3vk logits --help)", argv[i]);
            return 2;
        }
    }
    if (!tokens == !prompt) {
        cli_error(cmd, tokens ? "--tokens and -p both given: pass one" : "missing --tokens IDS or -p TEXT");
        return 2;
    }
    if (!out) {
        cli_error(cmd, "missing --out FILE.npy ('-' for standard output)");
        return 2;
    }
    if (cli_is_stdout(out) && isatty(1)) {
        cli_error(cmd, "--out -: standard output is a terminal; redirect it (e.g. > logits.npy) or give a file");
        return 2;
    }
    tok_ids ids = {0};
    if (tokens) {
        if (cli_parse_ids(cmd, tokens, &ids)) {
            tok_ids_free(&ids);
            return 2;
        }
        if (ids.n == 0) {
            cli_error(cmd, "--tokens: no token ids given");
            tok_ids_free(&ids);
            return 2;
        }
    }
    int rc = 1;
    eng_ctx *c = NULL;
    eng_model *m = cli_model_open(cmd, &a, prompt != NULL);
    if (!m) goto done;
    if (prompt && cli_encode_prompt(cmd, m, &a, prompt, strlen(prompt), 0, NULL, &ids)) goto done;
    const phi3_config *cfg = eng_model_config(m);
    if (ids.n == 0) {
        cli_error(cmd, "the text gives no tokens (and --no-bos adds none)");
        goto done;
    }
    if (ids.n > (size_t)cfg->max_pos || (a.n_ctx && ids.n > (size_t)a.n_ctx)) {
        cli_error(cmd, "%zu tokens exceed the context of %d tokens (%s)", ids.n, a.n_ctx ? a.n_ctx : cfg->max_pos,
                  a.n_ctx ? "--ctx" : "the model's");
        goto done;
    }
    int n = (int)ids.n;
    eng_plan_request pr = {.n_ctx = a.n_ctx ? a.n_ctx : n, .n_seq = 1, .n_batch = n, .all_logits = 1};
    if (!(c = cli_ctx_create(cmd, m, &a, &pr))) goto done;
    char err[2048];
    double t0 = util_now_s();
    eng_output o;
    if (eng_step(c, &(eng_input){.seq = 0, .tokens = ids.ids, .n = n, .want = ENG_ALL_LOGITS}, 1, &o, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    double t1 = util_now_s();
    int rows = n;
    const float *logits = o.logits;
    if (write_npy(out, logits, rows, cfg->vocab, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    if (!a.quiet) /* the message goes where the data does not */
        fprintf(cli_is_stdout(out) ? stderr : stdout, "wrote %s: float32 [%d, %d]\n",
                cli_is_stdout(out) ? "standard output" : out, rows, cfg->vocab);
    if (a.verbose) fprintf(stderr, "phi3vk: %d positions in %.3f s (%.2f tokens/s)\n", n, t1 - t0, n / (t1 - t0));
    rc = 0;
done:
    tok_ids_free(&ids);
    if (cli_model_close(m, c)) rc = 1;
    return rc;
}
