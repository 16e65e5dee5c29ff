/* phi3vk synth: write a random-weight Phi-3 checkpoint (HF folder or GGUF). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "model/synth.h"

static void synth_usage(FILE *f) {
    fprintf(f,
            "usage: phi3vk synth OUT [options]\n"
            "Writes a random-weight Phi-3 checkpoint: a Hugging Face folder OUT (config.json,\n"
            "generation_config.json, model.safetensors or shards + index) or, with --gguf, one\n"
            "GGUF file OUT ('-': standard output). Same options and seed, same bytes. An existing\n"
            "OUT (other than an empty folder) is only replaced with --force.\n\n"
            "  --preset tiny|phi3-mini  base shape (default tiny: hidden 128, ffn 256, 2 layers,\n"
            "                           4 heads, vocab 32064); the options below override it\n"
            "  --hidden N --intermediate N --layers N --heads N --kv-heads N --vocab N\n"
            "  --ctx N                  max_position_embeddings (default 4096)\n"
            "  --sliding-window N       0 = none (default 2047)\n"
            "  --longrope ORIG_CTX      LongRoPE scaling with original context ORIG_CTX (< --ctx)\n"
            "  --tie                    tie_word_embeddings: no lm_head tensor\n"
            "  --dtype f32|f16|bf16     weight type (default f32; GGUF default f16)\n"
            "  --type q8_0|q4_0|q4_k|q4_k_m  (with --gguf) quantize the matrices as `phi3vk convert\n"
            "                           --type` stores them\n"
            "  --shards N               number of safetensors files (default 1)\n"
            "  --gguf                   write a GGUF file instead of a folder\n"
            "  --tokenizer PATH         a tokenizer to include: a tokenizer.json, a folder with one, or\n"
            "                           a repo id in the Hugging Face cache; the folder gets copies of\n"
            "                           tokenizer.json and the tokenizer_config.json and\n"
            "                           special_tokens_map.json beside it, a GGUF its vocabulary\n"
            "                           (a .gguf vocabulary works for --gguf only). Default: none\n"
            "  -s, --seed S             (default 1)\n"
            "  --std X --embd-std X     weight standard deviations (default 0.06 and 1.0)\n"
            "  -t, --threads N          threads generating and quantizing the values (default: one\n"
            "                           per processor; the bytes do not depend on it)\n"
            "  --force                  replace an existing OUT\n"
            "  -q, --quiet              no 'wrote ...' line\n"
            "Exit status: 0 written, 1 error (OUT exists without --force, I/O), 2 usage error\n"
            "(an unknown option or an invalid shape).\n");
}

/* Parses argv[*i + 1] as a number in [lo, hi]. */
static int num_arg(int argc, char **argv, int *i, double lo, double hi, double *out) {
    if (*i + 1 >= argc) {
        cli_error("synth", "%s needs a value", argv[*i]);
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(argv[*i + 1], &end);
    if (errno || *end || end == argv[*i + 1] || !(v >= lo && v <= hi)) {
        cli_error("synth", "%s: expected a number in [%g, %g], found '%s'", argv[*i], lo, hi, argv[*i + 1]);
        return -1;
    }
    ++*i;
    *out = v;
    return 0;
}

/* Parses argv[*i + 1] as a whole number in [lo, hi]. */
static int int_arg(int argc, char **argv, int *i, double lo, double hi, double *out) {
    if (num_arg(argc, argv, i, lo, hi, out)) return -1;
    if (*out == (int)*out) return 0;
    cli_error("synth", "%s: expected a whole number, found '%s'", argv[*i - 1], argv[*i]);
    return -1;
}

int cmd_synth(int argc, char **argv) {
    phi3_synth_opts o;
    phi3_synth_defaults(&o);
    const char *out = NULL, *dtype = NULL, *tok = NULL;
    char err[1024], tok_path[4096];
    int force = 0, quiet = 0;
    struct { const char *flag; int *dst; } ints[] = {
        {"--hidden", &o.cfg.hidden}, {"--intermediate", &o.cfg.intermediate}, {"--layers", &o.cfg.n_layers},
        {"--heads", &o.cfg.n_heads}, {"--kv-heads", &o.cfg.n_kv_heads}, {"--vocab", &o.cfg.vocab},
        {"--ctx", &o.cfg.max_pos}, {"--sliding-window", &o.cfg.sliding_window}, {"--shards", &o.shards},
    };
    int longrope = 0, kv_set = 0;
    /* the preset goes first so that the other options override it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--preset") && phi3_synth_preset(&o.cfg, argv[i + 1], err, sizeof err)) {
            cli_error("synth", "%s", err);
            return 2;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        size_t k, n_ints = sizeof ints / sizeof ints[0];
        for (k = 0; k < n_ints && strcmp(a, ints[k].flag); k++) {}
        if (cli_is_help(a)) {
            synth_usage(stdout);
            return 0;
        } else if (k < n_ints) {
            if (int_arg(argc, argv, &i, 0, 1e7, &v)) return 2;
            *ints[k].dst = (int)v;
            kv_set |= ints[k].dst == &o.cfg.n_kv_heads;
        } else if (!strcmp(a, "--preset")) {
            i++;
        } else if (!strcmp(a, "--longrope")) {
            if (num_arg(argc, argv, &i, 1, 1e7, &v)) return 2;
            longrope = (int)v;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
            if (num_arg(argc, argv, &i, 0, 1.8e19, &v)) return 2;
            o.seed = (uint64_t)v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (int_arg(argc, argv, &i, -1, 65536, &v)) return 2;
            o.threads = v > 0 ? (int)v : 0;
        } else if (!strcmp(a, "--std")) {
            if (num_arg(argc, argv, &i, 0, 100, &v)) return 2;
            o.std = (float)v;
        } else if (!strcmp(a, "--embd-std")) {
            if (num_arg(argc, argv, &i, 0, 1e6, &v)) return 2;
            o.embd_std = (float)v;
        } else if (!strcmp(a, "--dtype") && i + 1 < argc) {
            dtype = argv[++i];
        } else if (!strcmp(a, "--type") && i + 1 < argc) {
            if (phi3_quant_parse(argv[++i], &o.quant) || o.quant == PHI3_QUANT_F16) {
                cli_error("synth", "--type: expected q8_0, q4_0, q4_k or q4_k_m, found '%s'", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--tokenizer")) {
            if (i + 1 >= argc) {
                cli_error("synth", "--tokenizer needs a value (see --help)");
                return 2;
            }
            tok = argv[++i];
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--gguf")) {
            o.gguf = 1;
        } else if (!strcmp(a, "--tie")) {
            o.cfg.tie_word_embeddings = 1;
        } else if ((a[0] == '-' && a[1]) || out) {
            cli_error("synth", "unexpected argument '%s' (see phi3vk synth --help)", a);
            return 2;
        } else {
            out = a;
        }
    }
    if (!out) {
        synth_usage(stderr);
        return 2;
    }
    if (o.quant && !o.gguf) {
        cli_error("synth", "--type needs --gguf (a Hugging Face folder holds float weights)");
        return 2;
    }
    if (!kv_set) o.cfg.n_kv_heads = o.cfg.n_heads;
    o.cfg.orig_max_pos = o.cfg.max_pos; /* --longrope lowers it */
    if (o.gguf) o.dtype = FMT_DTYPE_F16;
    if (dtype) {
        if (!strcmp(dtype, "f32")) o.dtype = FMT_DTYPE_F32;
        else if (!strcmp(dtype, "f16")) o.dtype = FMT_DTYPE_F16;
        else if (!strcmp(dtype, "bf16")) o.dtype = FMT_DTYPE_BF16;
        else {
            cli_error("synth", "--dtype: expected f32, f16 or bf16, found '%s'", dtype);
            return 2;
        }
    }
    if (o.cfg.vocab <= 32007) { /* keep the Phi-3 stop ids that fit a small vocabulary */
        int n = 0;
        for (int i = 0; i < o.cfg.n_stop; i++)
            if (o.cfg.stop_ids[i] < o.cfg.vocab) o.cfg.stop_ids[n++] = o.cfg.stop_ids[i];
        o.cfg.n_stop = n;
        if (o.cfg.eos_id >= o.cfg.vocab) o.cfg.eos_id = -1;
        if (o.cfg.pad_id >= o.cfg.vocab) o.cfg.pad_id = -1;
        if (o.cfg.bos_id >= o.cfg.vocab) o.cfg.bos_id = -1;
    }
    if (longrope) {
        if (longrope >= o.cfg.max_pos) {
            cli_error("synth", "--longrope %d: expected less than --ctx (%d)", longrope, o.cfg.max_pos);
            return 2;
        }
        phi3_synth_longrope(&o.cfg, longrope);
    }
    if (phi3_synth_validate(&o, err, sizeof err)) {
        cli_error("synth", "%s", err);
        return 2;
    }
    if (cli_is_stdout(out) && !o.gguf) {
        cli_error("synth", "OUT '-' (standard output) needs --gguf: a folder cannot be written there");
        return 2;
    }
    if (cli_is_stdout(out) && isatty(1)) {
        cli_error("synth", "OUT '-': standard output is a terminal; redirect it (e.g. > model.gguf) or give a file");
        return 2;
    }
    if (tok) {
        if (cli_resolve_spec("synth", "--tokenizer", tok, tok_path, sizeof tok_path)) return 1;
        o.tokenizer = tok_path;
    }
    if (cli_check_overwrite("synth", out, force)) return 1;
    if (phi3_synth_write(&o, out, err, sizeof err)) {
        cli_error("synth", "%s", err);
        return 1;
    }
    if (quiet) return 0;
    fprintf(cli_is_stdout(out) ? stderr : stdout, "wrote %s: %s, hidden %d, ffn %d, %d layers, %d/%d heads, vocab %d, %s%s%s\n", cli_is_stdout(out) ? "standard output" : out, o.gguf ? "GGUF" : "HF folder",
           o.cfg.hidden, o.cfg.intermediate, o.cfg.n_layers, o.cfg.n_heads, o.cfg.n_kv_heads, o.cfg.vocab,
           o.quant ? phi3_quant_name(o.quant) : fmt_dtype_name(o.dtype),
           o.gguf || o.shards == 1 ? "" : " (sharded)", o.tokenizer ? ", with a tokenizer" : "");
    return 0;
}
