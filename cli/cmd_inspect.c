/* phi3vk inspect: what a checkpoint holds (config, tensors, tokenizer, stop
 * ids, chat template), for a Hugging Face folder or a GGUF file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "model/convert.h"
#include "formats/gguf.h"
#include "model/source.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_gguf.h"

static void inspect_usage(FILE *f) {
    fprintf(f,
            "usage: phi3vk inspect PATH [--tokenizer PATH] [--no-tensors]\n"
            "Prints what a checkpoint holds: config, stop ids, every tensor (name, dtype,\n"
            "shape rows-first, bytes), GGUF metadata, tokenizer summary and chat template.\n"
            "PATH is a Hugging Face folder, a .gguf file or a repo id owner/name[@revision] in\n"
            "the Hugging Face cache. Exit code 1 when PATH is not a loadable Phi-3 model (a GGUF\n"
            "file is still described, e.g. a vocab-only one).\n\n"
            "  --tokenizer PATH  a tokenizer.json, a folder with one, or a repo id (default: the\n"
            "                    model's own, or for a model that ships none, like the toxicity\n"
            "                    judge, its base model's from the Hugging Face cache)\n"
            "  --no-tensors      leave out the tensor list\n");
}

static void print_config(const phi3_config *c) {
    printf("config:\n");
    printf("  hidden %d, intermediate %d, layers %d, heads %d, kv heads %d, head_dim %d, vocab %d\n", c->hidden, c->intermediate,
           c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab);
    printf("  context %d (original %d), sliding window %s%d, rms_eps %g, rope_theta %g\n", c->max_pos, c->orig_max_pos,
           c->sliding_window ? "" : "none/", c->sliding_window, c->rms_eps, c->rope_theta);
    if (c->rope_scaling == PHI3_ROPE_LONGROPE)
        printf("  rope scaling: longrope, attention factor %.6f, short_factor[0..] %g %g ..., long_factor[0..] %g %g ...\n",
               c->rope_attn_factor, c->short_factor[0], c->short_factor[1], c->long_factor[0], c->long_factor[1]);
    else
        printf("  rope scaling: none\n");
    printf("  bos %d, eos %d, pad %d, tie_word_embeddings %s\n", c->bos_id, c->eos_id, c->pad_id, c->tie_word_embeddings ? "yes" : "no");
    printf("  stop ids:");
    for (int i = 0; i < c->n_stop; i++) printf(" %d", c->stop_ids[i]);
    printf("\n");
}

static void print_tensors(const phi3_source *src) {
    uint64_t n = phi3_source_tensor_count(src), total = 0;
    printf("tensors (%llu):\n", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        const phi3_tensor *t = phi3_source_tensor_at(src, i);
        char shape[128];
        int k = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->n_dims && k < 100; d++) k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
        snprintf(shape + k, sizeof shape - (size_t)k, "]");
        size_t nl = strlen(t->name);
        fputs("  ", stdout);
        cli_print_safe(stdout, t->name, nl, 0); /* names come from the file */
        printf("%*s %-5s %-16s %12llu\n", nl < 52 ? (int)(52 - nl) : 0, "", t->dtype_name, shape, (unsigned long long)t->bytes);
        total += t->bytes;
    }
    printf("  total %.3f GB\n", (double)total / 1e9);
}

/* key: type = short value, for every GGUF key. */
static void print_gguf_metadata(const fmt_gguf *g) {
    char err[256];
    printf("GGUF v%u, alignment %u, %llu keys:\n", fmt_gguf_version(g), fmt_gguf_alignment(g), (unsigned long long)fmt_gguf_kv_count(g));
    for (uint64_t i = 0; i < fmt_gguf_kv_count(g); i++) {
        const char *key = fmt_gguf_kv_key(g, (int64_t)i);
        fmt_gguf_type t = fmt_gguf_kv_type(g, (int64_t)i);
        fputs("  ", stdout);
        cli_print_safe(stdout, key, strlen(key), 0); /* keys and strings come from the file */
        printf(": %s", fmt_gguf_type_name(t));
        const char *s;
        uint64_t len;
        fmt_gguf_arr a;
        int64_t iv;
        uint64_t uv;
        double fv;
        int bv;
        if (t == FMT_GGUF_STRING && !fmt_gguf_get_str(g, key, &s, &len, err, sizeof err)) {
            int cut = 0;
            while (cut < 60 && (uint64_t)cut < len && s[cut] != '\n') cut++;
            fputs(" = \"", stdout);
            cli_print_safe(stdout, s, (size_t)cut, 0);
            printf("\"%s", (uint64_t)cut < len ? " ..." : "");
        } else if (t == FMT_GGUF_ARRAY && !fmt_gguf_get_arr(g, key, FMT_GGUF_TYPE_COUNT, &a, err, sizeof err)) {
            printf(" of %llu %s", (unsigned long long)a.n, fmt_gguf_type_name(a.type));
        } else if (t == FMT_GGUF_BOOL && !fmt_gguf_get_bool(g, key, &bv, err, sizeof err)) {
            printf(" = %s", bv ? "true" : "false");
        } else if ((t == FMT_GGUF_FLOAT32 || t == FMT_GGUF_FLOAT64) && !fmt_gguf_get_f64(g, key, &fv, err, sizeof err)) {
            printf(" = %g", fv);
        } else if (!fmt_gguf_get_i64(g, key, &iv, err, sizeof err)) {
            printf(" = %lld", (long long)iv);
        } else if (t == FMT_GGUF_UINT64 && !fmt_gguf_get_u64(g, key, &uv, err, sizeof err)) {
            printf(" = %llu", (unsigned long long)uv);
        }
        printf("\n");
    }
}

/* s on one line, newlines shown as \n, controls escaped. */
static void print_escaped(const char *s) { cli_print_safe(stdout, s, strlen(s), 0); }

/* The chat template of a Hugging Face tokenizer (tokenizer_config.json), when it has one. */
static void print_hf_template(const char *tok_path) {
    char err[1024];
    phi3_tokcfg tc;
    if (phi3_tokcfg_load(tok_path, &tc, err, sizeof err)) {
        printf("chat template (tokenizer_config.json): unreadable (%s)\n", err);
        return;
    }
    if (tc.chat_template) {
        printf("chat template (%s): ", tc.path);
        print_escaped(tc.chat_template);
        printf("\n");
    }
    phi3_tokcfg_free(&tc);
}

static void print_tokenizer(const phi3_source *src, const fmt_gguf *g, const char *override) {
    char err[1024] = "";
    tok_tokenizer *t = NULL;
    const char *from;
    if (override) t = tok_load_path(override, err, sizeof err), from = override;
    else if (g) t = tok_load_gguf(g, err, sizeof err), from = "GGUF tokenizer.ggml.*";
    else if (src && phi3_source_dir(src)) t = tok_load_path(phi3_source_dir(src), err, sizeof err), from = phi3_source_dir(src);
    else from = "none", snprintf(err, sizeof err, "no tokenizer source");
    if (!t) {
        printf("tokenizer: none (%s)\n", err);
        return;
    }
    printf("tokenizer: %s from %s: %d ids, bos %d, eos %d, unk %d, pad %d, add_bos %s\n", tok_source_kind(t), from, tok_n_vocab(t),
           tok_bos_id(t), tok_eos_id(t), tok_unk_id(t), tok_pad_id(t), tok_add_bos_default(t) ? "yes" : "no");
    tok_chat_msg m = {"user", "{content}"};
    char *text = tok_chat_render(&m, 1, 1, err, sizeof err);
    tok_ids ids = {0};
    if (text && !tok_chat_encode(t, &m, 1, TOK_CHAT_CONTENT_AS_TEXT, &ids, err, sizeof err)) {
        printf("chat template (built in, BOS first): ");
        print_escaped(text);
        printf(" -> %zu ids\n", ids.n);
    }
    if (override || !g) print_hf_template(from);
    tok_ids_free(&ids);
    free(text);
    tok_destroy(t);
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *tok = NULL;
    int tensors = 1;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            inspect_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tokenizer")) {
            if (i + 1 >= argc) {
                cli_error("inspect", "--tokenizer needs a value (see phi3vk inspect --help)");
                return 2;
            }
            tok = argv[++i];
        } else if (!strcmp(argv[i], "--no-tensors")) {
            tensors = 0;
        } else if (argv[i][0] == '-' || path) {
            cli_error("inspect", "unexpected argument '%s' (see phi3vk inspect --help)", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        inspect_usage(stderr);
        return 2;
    }
    cli_model_paths paths;
    if (cli_resolve_model("inspect", path, tok, 0, &paths)) return 1;
    path = paths.model;
    tok = paths.tokenizer[0] ? paths.tokenizer : NULL;
    char err[1024];
    phi3_source *src = phi3_source_open(path, err, sizeof err);
    if (src) {
        printf("%s: %s\n", path, phi3_source_gguf(src) ? "GGUF file" : "Hugging Face folder");
        print_config(phi3_source_config(src));
        if (phi3_source_gguf(src)) print_gguf_metadata(phi3_source_gguf(src));
        if (tensors) print_tensors(src);
        print_tokenizer(src, phi3_source_gguf(src), tok);
        phi3_source_close(src);
        return 0;
    }
    /* not a loadable model: still describe a GGUF file (e.g. vocab-only) */
    char gerr[1024];
    fmt_gguf *g = fmt_gguf_open(path, gerr, sizeof gerr);
    if (!g) {
        cli_error("inspect", "%s", err);
        return 1;
    }
    printf("%s: GGUF file, not a loadable Phi-3 model (%s)\n", path, err);
    print_gguf_metadata(g);
    if (tensors) {
        printf("tensors (%llu):\n", (unsigned long long)fmt_gguf_tensor_count(g));
        for (uint64_t i = 0; i < fmt_gguf_tensor_count(g); i++) {
            const fmt_gguf_tensor *t = fmt_gguf_tensor_at(g, i);
            printf("  %-52s %-5s ne [%llu, %llu, %llu, %llu] %llu bytes\n", t->name, fmt_ggml_type_name(t->type), (unsigned long long)t->ne[0],
                   (unsigned long long)t->ne[1], (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (unsigned long long)t->n_bytes);
        }
    }
    print_tokenizer(NULL, g, tok);
    fmt_gguf_close(g);
    return 1;
}
