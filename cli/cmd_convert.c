/* phi3vk convert: a Hugging Face Phi-3 folder -> an F16 or quantized GGUF
 * that llama.cpp and phi3vk load (model/convert.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "formats/mapfile.h"
#include "model/convert.h"
#include "model/source.h"
#include "tokenizer/tok.h"
#include "util/time.h"

static void convert_usage(FILE *f) {
    fprintf(f,
            "usage: phi3vk convert IN OUT.gguf [--type T] [--tokenizer PATH] [--name NAME] [-t N] [--force] [-q]\n"
            "Writes the Hugging Face Phi-3 checkpoint IN (a folder with config.json + safetensors,\n"
            "F32, BF16 or F16, single or sharded, or a repo id owner/name[@revision] in the Hugging\n"
            "Face cache) as one GGUF file with the tensor names, types and metadata llama.cpp's\n"
            "convert_hf_to_gguf.py writes for phi3, so llama.cpp loads it too.\n"
            "Matrices become F16 (nearest even; values beyond +-65504 are clamped and reported)\n"
            "or, with --type, ggml's quantized blocks; norms and LongRoPE factors stay F32. The\n"
            "tokenizer is embedded as tokenizer.ggml.*,\n"
            "padded to the model's vocab_size with [PAD<id>] entries, with the special ids,\n"
            "add_bos_token and the chat template of its tokenizer_config.json; every stop id of\n"
            "generation_config.json is kept (phi3vk.stop_token_ids).\n"
            "The file is written as OUT.gguf.tmp and renamed when complete; OUT '-' streams it to\n"
            "standard output. An existing OUT is only replaced with --force.\n\n"
            "  --type T          f16 (default), q8_0 (8.5 bits per weight), q4_0 (4.5; lm_head Q6_K),\n"
            "                    q4_k (4.5; lm_head Q6_K) or q4_k_m (about 4.9: llama-quantize's\n"
            "                    Q4_K_M, with Q5_K qkv and Q6_K down projections in a third of the\n"
            "                    layers); rows that are no whole number of blocks fall back to q8_0\n"
            "                    (K types) or f16\n"
            "  --tokenizer PATH  a tokenizer.json, a folder with one, a GGUF holding a tokenizer, or a\n"
            "                    repo id (default: IN's own). A model that ships no tokenizer (the\n"
            "                    toxicity judge) gets its base model's, microsoft/Phi-3-mini-4k-instruct,\n"
            "                    from the Hugging Face cache, as classify does\n"
            "  --name NAME       general.name (default: IN's folder name, or the repo name for a\n"
            "                    Hugging Face cache snapshot, prefixed with \"Phi-3 \" unless it has\n"
            "                    \"phi3\" or \"phi-3\": llama.cpp gives Phi-3's special tokens their\n"
            "                    whitespace-stripping only for such a name)\n"
            "  -t, --threads N   threads quantizing the rows with --type (default: one per processor;\n"
            "                    the file's bytes do not depend on it)\n"
            "  --force           replace an existing OUT\n"
            "  -q, --quiet       no progress and no summary on stderr\n");
}

typedef struct progress_view {
    int tty;          /* redraw one line with '\r' */
    int next_tenth;   /* non-TTY: print at each 10% */
    double t0;
} progress_view;


static void on_progress(void *ctx, int index, int count, const char *name, uint64_t done, uint64_t total) {
    progress_view *v = ctx;
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    if (v->tty) {
        fprintf(stderr, "\r\033[K  [%d/%d] %-28s %.2f / %.2f GB (%.0f%%)", index + 1, count, name, (double)done / 1e9,
                (double)total / 1e9, pct);
        if (index + 1 == count) fputc('\n', stderr);
    } else if (pct >= v->next_tenth * 10.0 || index + 1 == count) {
        fprintf(stderr, "  %.0f%%: %d/%d tensors, %.2f / %.2f GB\n", pct, index + 1, count, (double)done / 1e9, (double)total / 1e9);
        while (v->next_tenth * 10.0 <= pct) v->next_tenth++;
    }
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *tok_spec = NULL, *name = NULL;
    int force = 0, quiet = 0, threads = 0;
    phi3_quant quant = PHI3_QUANT_NONE;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            convert_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            if (phi3_quant_parse(argv[++i], &quant)) {
                cli_error("convert", "--type: expected f16, q8_0, q4_0, q4_k or q4_k_m, found '%s'", argv[i]);
                return 2;
            }
        } else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) && i + 1 < argc) {
            long long x;
            if (cli_parse_int("convert", argv[i], argv[i + 1], -1, 1 << 16, &x)) return 2;
            threads = x > 0 ? (int)x : 0;
            i++;
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok_spec = argv[++i];
        } else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
            name = argv[++i];
        } else if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("convert", "unexpected argument '%s'%s (see phi3vk convert --help)", argv[i],
                      !strcmp(argv[i], "--tokenizer") || !strcmp(argv[i], "--name") || !strcmp(argv[i], "--type") ||
                              !strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")
                          ? " without a value" : "");
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            cli_error("convert", "unexpected argument '%s' (see phi3vk convert --help)", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        convert_usage(stderr);
        return 2;
    }
    if (cli_is_stdout(out) && isatty(1)) {
        cli_error("convert", "OUT '-': standard output is a terminal; redirect it (e.g. > model.gguf) or give a file");
        return 2;
    }
    cli_model_paths paths;
    if (cli_resolve_model("convert", in, tok_spec, 1, &paths)) return 1;
    if (!fmt_is_dir(out) && cli_check_overwrite("convert", out, force)) return 1; /* a folder: the error below */
    char err[1024];
    phi3_tokcfg tc = {0};
    tok_tokenizer *tok = NULL;
    progress_view view = {.tty = isatty(2), .next_tenth = 1};
    phi3_convert_opts o = {.name = name, .quant = quant, .tokcfg = &tc, .progress = quiet ? NULL : on_progress, .progress_ctx = &view,
                           .threads = threads};
    phi3_convert_result res;
    const char *tok_path = paths.tokenizer[0] ? paths.tokenizer : paths.model;
    in = paths.model;
    phi3_source *src = phi3_source_open(in, err, sizeof err);
    int rc = 1;
    if (!src) {
        cli_error("convert", "%s", err);
        goto done;
    }
    if (phi3_source_gguf(src)) {
        cli_error("convert", "%s: already a GGUF file (convert takes a Hugging Face folder)", in);
        goto done;
    }
    if (name && name[0] && !phi3_convert_name_marks_phi3(name))
        fprintf(stderr, "warning: --name \"%s\" has no \"phi3\" or \"phi-3\": llama.cpp will then keep the whitespace after\n"
                        "  <|user|>, <|end|>, ... and tokenize chat prompts differently from Hugging Face and phi3vk\n", name);
    if (!(tok = tok_load_path(tok_path, err, sizeof err))) {
        cli_error("convert", "%s", err);
        goto done;
    }
    if (phi3_tokcfg_load(tok_path, &tc, err, sizeof err)) {
        cli_error("convert", "%s", err);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "converting %s (tokenizer %s%s%s) -> %s (%s)\n", in, tok_path, tc.path[0] ? ", " : "",
                tc.path[0] ? tc.path : "", cli_is_stdout(out) ? "standard output" : out, quant ? phi3_quant_name(quant) : "f16");
    view.t0 = util_now_s();
    if (phi3_convert_gguf(src, tok, &o, out, &res, err, sizeof err)) {
        if (view.tty && !quiet) fputc('\n', stderr);
        cli_error("convert", "%s", err);
        goto done;
    }
    const phi3_convert_stats *st = &res.stats;
    if (st->n_overflow || st->n_nan)
        fprintf(stderr, "warning: %llu values beyond fp16's range were clamped to +-65504 (max |x| %g) and %llu are NaN; first in %s\n",
                (unsigned long long)st->n_overflow, st->max_abs, (unsigned long long)st->n_nan, st->first_name);
    double dt = util_now_s() - view.t0;
    if (!quiet)
        fprintf(stderr, "wrote %s: %d tensors, %.3f GB of tensor data, %d vocabulary entries padded, %.1f s (%.0f MB/s)%s\n", out,
            res.n_tensors, (double)res.tensor_bytes / 1e9, (int)res.n_pad, dt, dt > 0 ? (double)res.tensor_bytes / 1e6 / dt : 0.0,
            tc.chat_template ? "" : "; no chat template (no tokenizer_config.json chat_template)");
    rc = 0;
done:
    phi3_tokcfg_free(&tc);
    tok_destroy(tok);
    phi3_source_close(src);
    return rc;
}
