/* phi3vk bench: parses the options, runs bench_run and prints the report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/kernels.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "model/synth.h"

static const char *const usage_text[] = {
    "usage: phi3vk bench (-m MODEL | --synthetic NAME) [options]\n"
    "       phi3vk bench --judge -f FILE [--batch B] [--reason] [--limit N] [classify's options]\n"
    "       phi3vk bench --kernels [--shape NxK[xT]]... [--weights LIST] [-r R] [--samples S] [-o FMT]\n"
    "                    [--device N|NAME]\n"
    "       phi3vk bench-compare A.jsonl B.jsonl ... [--plot out.svg]   (see phi3vk bench-compare --help)\n"
    "\n"
    "Measures prefill and generation speed (tokens/s) on one or more Vulkan devices, like\n"
    "llama-bench, with two correctness checks in every row: the attestation (a fixed small\n"
    "synthetic model on the device against a CPU reference: 16 greedy ids and the logits within\n"
    "normalized MSE 1e-4) and the model check (the measured model itself: the logits of a fixed\n"
    "13-token prompt against the C reference forward from the same weights, nmse <= 1e-3 and the\n"
    "same arg-max at every position but near-ties).\n"
    "\n"
    "model:\n"
    "  -m, --model MODEL    a Hugging Face folder, a .gguf file or a repo id owner/name[@revision]\n"
    "                       in the Hugging Face cache\n"
    "  --synthetic NAME     seeded random weights of a real shape, made on the fly (no file):\n"
    "                       phi3-mini (3.8 B, 32 layers) or tiny; same values as\n"
    "                       `phi3vk synth --preset NAME --seed S`\n"
    "  --layers N           run only the first N layers (full width)\n"
    "  -s, --seed S         seed of the synthetic weights (default 1)\n"
    "  --weights T          store the matrices as f16, q8_0, q4_0, q4_k or q4_k_m (quantized while\n"
    "                       loading; default: as the file stores them, float types as f16)\n"
    "\n"
    "tests (comma-separated lists; 0 skips):\n"
    "  -p, --n-prompt LIST  prefill an N-token prompt (default 512): test ppN\n"
    "  -n, --n-gen LIST     generate N tokens one at a time, greedy (default 128): test tgN\n"
    "  -pg P,N              a P-token prompt then N generated tokens, timed together: test\n"
    "                       ppP+tgN, t/s = (P + N) / time (llama-bench's pg); repeatable\n"
    "  -d, --depth LIST     run each test with D tokens already in the KV cache (default 0):\n"
    "                       test names get @dD\n"
    "  --parallel N         N sequences per test (1..64): their prompts share the passes and they\n"
    "                       decode in lockstep; t/s counts every sequence's tokens; names get @pN\n"
    "  -b, --batch-size N   most tokens per pass (llama-bench's -b); default the longest prompt\n"
    "  -r, --repetitions R  measured runs per test after one warm-up (default 5, at most 100)\n"
    "  --no-model-check     skip the model check (its C reference reads the whole checkpoint and\n"
    "                       does ~26 flops per parameter on the host: seconds to minutes for a\n"
    "                       3.8 B model); the row says model_check skipped\n"
    "\n"
    "output:\n"
    "  -o, --output FMT     md (default), csv, json or jsonl: the format, as in llama-bench (not\n"
    "                       a file; the rows go to standard output, progress to stderr)\n"
    "  --profile            per-op GPU time (timestamp queries) of the last run of each test:\n"
    "                       calls, ms, share, GB/s and GFLOP/s of the matrix ops, and the sum of\n"
    "                       op times against wall time\n"
    "  -q, --quiet          no progress on stderr\n"
    "\n",
    "devices:\n"
    "  --device LIST        device indices or name substrings (see phi3vk devices), one result\n"
    "                       row per device and test; default: the device other commands pick\n"
    "  --validate           run with the Khronos validation layer (slow; for debugging)\n"
    "  --device-profile P   the kernels of device class P: auto (default: from the device, or\n"
    "                       PHI3VK_DEVICE_PROFILE), cpu, nvidia, amd, intel, gpu\n"
    "  --no-self-test       skip the kernel self-test a device gets once before first use\n"
    "  -t, --threads N      host threads converting or quantizing the weights while loading\n"
    "                       (default: one per processor, at most 16); not a column: the rows\n"
    "                       time the Vulkan device\n"
    "  -ngl N               llama-bench's GPU layers: accepted and ignored, with a note (every\n"
    "                       layer runs on the Vulkan device)\n"
    "\n",
    "the judge (--judge): the toxicity judge's own workload, as `phi3vk classify` runs it\n"
    "  --judge              classify the first --limit items (default 64) of -f FILE, -r times\n"
    "                       (default 1) after a warm-up batch; takes classify's model, input,\n"
    "                       prompt, --reason, -n (tokens to generate), --batch and --too-long\n"
    "                       options (see phi3vk classify --help; the model defaults to the judge)\n"
    "                       and -r, -o, -q, --no-model-check. The row gives items/s, prompt\n"
    "                       tokens/s, per-item latency p50/p90/p99 (an item's batch), TTFT (the\n"
    "                       batch's prompt pass), TPOT (--reason) and every item's label\n"
    "                       (judge_labels: t, n, u, e). The standard set: -f\n"
    "                       ../shared/data/toxicity/davidson_labeled_data.binary.tsv --limit 64\n"
    "\n"
    "kernels (--kernels):\n"
    "  --kernels            instead of a model, time the matrix kernels alone at Phi-3-mini's\n"
    "                       shapes: matrix x vector (decode: GB/s of weights read) and\n"
    "                       matrix x matrix (prefill: GFLOP/s), each checked against a C\n"
    "                       reference on 64 rows (pass: nmse <= 1e-8); -o md, csv, json, jsonl\n"
    "  --shape NxK[xT]      time W [N, K] by T tokens (default 1) instead; repeatable\n"
    "  --weights LIST       weight types, comma-separated: f16 (default), q8_0, q4_0, q4_k,\n"
    "                       q5_k, q6_k (random values quantized on the host; the reference\n"
    "                       uses the dequantized blocks); one row per shape and type\n"
    "  --samples S          timings per kernel after a half-second warm-up (default 5), each of\n"
    "                       R dispatches (-r, default 20; a tenth for 64 tokens and more): the\n"
    "                       median is reported, with the slowest and fastest sample beside it\n"
    "\n"
    "Every row has schema_version, the host (CPU, cores, OS, kernel, Vulkan loader, compiler\n"
    "and build flags), the device (name, vendor, type, driver name and version, Vulkan version,\n"
    "subgroup size, clocks where the driver reports them, device profile and kernel fallbacks),\n"
    "the model (name, parameters, bytes, weight types and bytes per weight), the test, t/s mean\n"
    "and sd with every sample, avg_ns, samples_ns, p50/p90/p99 of a repetition's time, TTFT and\n"
    "TPOT (tg and pg), device memory, peak host RSS, both checks, phi3vk version and commit, and\n"
    "the date (UTC); the README lists every field. Exit status: 0 when every check passed, 1 on\n"
    "an error or a failed check, 2 on a usage error.\n",
    NULL};

/* Parses "64,512" into v[0..*n). Returns 0, or -1 after printing why. */
static int parse_list(const char *flag, const char *s, int *v, int *n) {
    *n = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > 1000000 || (*end && *end != ',')) {
            cli_error("bench", "%s: expected comma-separated token counts in [0, 1000000], found '%s'", flag, s);
            return -1;
        }
        if (*n == BENCH_MAX_LIST) {
            cli_error("bench", "%s: at most %d values", flag, BENCH_MAX_LIST);
            return -1;
        }
        v[(*n)++] = (int)x;
        if (!*end) return 0;
        p = end + 1;
    }
}

/* "-pg P,N": one prompt + generation test. Returns 0, or -1 after printing why. */
static int parse_pg(const char *s, bench_opts *o) {
    int v[BENCH_MAX_LIST], n = 0;
    if (parse_list("-pg", s, v, &n)) return -1;
    if (n != 2 || v[0] < 1 || v[1] < 1) {
        cli_error("bench", "-pg: expected P,N (prompt and generation lengths >= 1), found '%s'", s);
        return -1;
    }
    if (o->n_pg == BENCH_MAX_LIST) {
        cli_error("bench", "-pg: at most %d tests", BENCH_MAX_LIST);
        return -1;
    }
    o->pg[o->n_pg][0] = v[0], o->pg[o->n_pg][1] = v[1];
    o->n_pg++;
    return 0;
}

/* Splits "0,1" into device selectors (pointing into a copy of s). */
static int parse_devices(char *s, bench_opts *o) {
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_devices == BENCH_MAX_DEVICES) {
            cli_error("bench", "--device: at most %d devices", BENCH_MAX_DEVICES);
            return -1;
        }
        o->devices[o->n_devices++] = tok;
    }
    if (o->n_devices == 0) {
        cli_error("bench", "--device: expected indices or names, found '%s'", s);
        return -1;
    }
    return 0;
}

/* Parses an integer in [1, max]. Returns 0, or -1 after printing why. */
static int int_arg(const char *flag, const char *v, int max, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < 1 || x > max) {
        cli_error("bench", "%s: expected an integer in [1, %d], found '%s'", flag, max, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static void on_progress(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "phi3vk bench: %s\n", msg);
}

/* Parses argv into o; *ignored gets 1 for -ngl. */
static int parse_args(int argc, char **argv, bench_opts *o, bench_format *fmt, char *devices, size_t dlen,
                      int *ignored) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        const char *v = has ? argv[i + 1] : NULL;
        char *end;
        long long x;
        if (!strcmp(a, "--profile")) o->profile = 1;
        else if (!strcmp(a, "--validate")) o->validate = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o->progress = NULL;
        else if (!strcmp(a, "--no-self-test")) o->no_self_test = 1;
        else if (!strcmp(a, "--no-model-check")) o->no_model_check = 1;
        else if (!has && a[0] == '-') {
            cli_error("bench", "%s needs a value (or is unknown; see --help)", a);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = argv[++i];
        else if (!strcmp(a, "--synthetic")) {
            phi3_config cfg;
            char err[256];
            if (phi3_synth_preset(&cfg, argv[++i], err, sizeof err)) {
                cli_error("bench", "--synthetic: expected phi3-mini or tiny, found '%s'", argv[i]);
                return -1;
            }
            o->synthetic = argv[i];
        } else if (!strcmp(a, "-ngl") || !strcmp(a, "--n-gpu-layers")) {
            if (cli_parse_int("bench", a, argv[++i], -1, 1 << 20, &x)) return -1;
            *ignored = 1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (cli_parse_int("bench", a, argv[++i], -1, 1 << 16, &x)) return -1;
            o->load_threads = x > 0 ? (int)x : 0; /* llama-bench's -t -1: the default */
        }
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            if (parse_list(a, argv[++i], o->pp, &o->n_pp)) return -1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            if (parse_list(a, argv[++i], o->tg, &o->n_tg)) return -1;
        } else if (!strcmp(a, "-pg")) {
            if (parse_pg(argv[++i], o)) return -1;
        } else if (!strcmp(a, "--parallel")) {
            if (int_arg(a, argv[++i], BENCH_MAX_PARALLEL, &o->parallel)) return -1;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            if (int_arg(a, argv[++i], 1000000, &o->n_batch)) return -1;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) {
            if (parse_list(a, argv[++i], o->depth, &o->n_depth)) return -1;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (int_arg(a, argv[++i], BENCH_MAX_REPS, &o->reps)) return -1;
        } else if (!strcmp(a, "--layers")) {
            if (int_arg(a, argv[++i], 100000, &o->layers)) return -1;
        } else if (!strcmp(a, "--weights")) {
            if (phi3_quant_parse(argv[++i], &o->weights)) {
                cli_error("bench", "--weights: expected f16, q8_0, q4_0, q4_k or q4_k_m, found '%s'", argv[i]);
                return -1;
            }
        } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            if (end == v || *end || errno || v[0] == '-') {
                cli_error("bench", "--seed: expected a non-negative integer, found '%s'", v);
                return -1;
            }
            o->seed = x, i++;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (bench_format_parse(argv[++i], fmt)) {
                cli_error("bench", "-o: expected md, csv, json or jsonl, found '%s'", argv[i]);
                return -1;
            }
        } else if (!strcmp(a, "--device")) {
            snprintf(devices, dlen, "%s", argv[++i]);
            if (parse_devices(devices, o)) return -1;
        } else if (!strcmp(a, "--device-profile")) {
            if (cli_check_device_profile("bench", argv[++i])) return -1;
            o->device_profile = argv[i];
        } else {
            cli_error("bench", "unknown argument '%s' (see --help)", a);
            return -1;
        }
    }
    if (!o->model == !o->synthetic) {
        cli_error("bench", "give exactly one of -m MODEL or --synthetic NAME (see --help)");
        return -1;
    }
    return 0;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            for (int k = 0; usage_text[k]; k++) fputs(usage_text[k], stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--kernels")) return cmd_bench_kernels(argc, argv);
        if (!strcmp(argv[i], "--judge")) return cmd_bench_judge(argc, argv);
    }
    bench_opts o;
    bench_opts_defaults(&o);
    o.progress = on_progress;
    o.device_profile = getenv("PHI3VK_DEVICE_PROFILE");
    bench_format fmt = BENCH_FMT_MD;
    char devices[1024], err[1024], model[4096];
    int ignored = 0;
    if (parse_args(argc, argv, &o, &fmt, devices, sizeof devices, &ignored)) return 2;
    cli_ignored_notes("bench", ignored, o.progress == NULL);
    if (o.model) {
        if (cli_resolve_spec("bench", "-m", o.model, model, sizeof model)) return 1;
        o.model = model;
    }
    bench_report rep;
    if (bench_run(&o, &rep, err, sizeof err)) {
        cli_error("bench", "%s", err);
        return 1;
    }
    char *text = bench_report_format(&rep, fmt);
    if (!text) {
        cli_error("bench", "out of memory formatting the report");
        bench_report_free(&rep);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    int failed = !bench_report_valid(&rep);
    if (failed) cli_error("bench", "a correctness check FAILED on at least one device: its numbers are not valid");
    bench_report_free(&rep);
    return failed ? 1 : 0;
}
