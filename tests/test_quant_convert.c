/* phi3_convert_gguf with a quantization scheme (convert --type): the types
 * each tensor gets (llama-quantize's choices: lm_head Q6_K for the 4-bit
 * schemes, Q4_K_M's Q5_K qkv and Q6_K down layers, the fallbacks for rows
 * that are no whole number of blocks), general.file_type, tensor data
 * aligned as GGUF requires, and every block exactly what fmt_quantize_row
 * makes of the folder's values (the block layout itself is test_quant's).
 * Also the regression of issue 14's leftover: an input that shrinks while
 * convert reads it is an error naming the tensor, for the F32 norms as for
 * the matrices, never a SIGBUS; nothing is left at the output path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "formats/quant.h"
#include "lib/check.h"
#include "lib/toktest.h"
#include "model/convert.h"
#include "model/source.h"
#include "model/synth.h"

static char tmpdir[] = "/tmp/phi3vk-test-quant-convert-XXXXXX";

static void opts(phi3_synth_opts *o, int hidden, int layers) {
    phi3_synth_defaults(o);
    phi3_config *c = &o->cfg;
    c->hidden = hidden, c->intermediate = 2 * hidden, c->n_layers = layers, c->n_heads = 2, c->n_kv_heads = 2, c->vocab = 300;
    c->head_dim = hidden / 2;
    c->bos_id = 1, c->eos_id = 2, c->pad_id = -1, c->n_stop = 1, c->stop_ids[0] = 2;
    c->max_pos = c->orig_max_pos = 512, c->sliding_window = 0;
    o->seed = 5;
}

/* The blocks of gg's tensor b are fmt_quantize_row of hf's float rows of a. */
static int same_blocks(const phi3_source *hf, const phi3_tensor *a, const phi3_source *gg, const phi3_tensor *b, uint32_t type) {
    char err[512];
    uint64_t rb = fmt_quant_row_bytes(type, a->cols);
    float *x = malloc((size_t)(a->rows * a->cols) * 4);
    uint8_t *want = malloc((size_t)(a->rows * rb)), *got = malloc((size_t)(a->rows * rb));
    int ok = x && want && got && phi3_source_read_rows_f32(hf, a, 0, a->rows, x, err, sizeof err) == 0 &&
             phi3_source_read_rows_raw(gg, b, 0, b->rows, got, err, sizeof err) == 0;
    for (uint64_t r = 0; ok && r < a->rows; r++) fmt_quantize_row(type, x + r * a->cols, want + r * rb, a->cols);
    ok = ok && !memcmp(want, got, (size_t)(a->rows * rb));
    free(x), free(want), free(got);
    return ok;
}

/* Converts dir with scheme q and checks every tensor of the result. */
static void check_scheme(const char *dir, const tok_tokenizer *tok, phi3_quant q, const uint32_t *expect) {
    char out[300], err[1024] = "";
    snprintf(out, sizeof out, "%s/%s.gguf", tmpdir, phi3_quant_name(q));
    phi3_source *hf = phi3_source_open(dir, err, sizeof err), *gg = NULL;
    CHECK(hf, "%s", err);
    if (!hf) return;
    phi3_convert_result res;
    CHECK(phi3_convert_gguf(hf, tok, &(phi3_convert_opts){.quant = q}, out, &res, err, sizeof err) == 0, "%s: %s",
          phi3_quant_name(q), err);
    if (!(gg = phi3_source_open(out, err, sizeof err))) {
        CHECK(0, "%s: reopening: %s", phi3_quant_name(q), err);
        phi3_source_close(hf);
        return;
    }
    const fmt_gguf *g = phi3_source_gguf(gg);
    uint32_t ft = 0;
    CHECK(fmt_gguf_get_u32(g, "general.file_type", &ft, err, sizeof err) == 0 && ft == phi3_quant_file_type(q),
          "%s: general.file_type %u", phi3_quant_name(q), ft);
    const phi3_config *c = phi3_source_config(hf);
    uint64_t bytes = 0;
    for (int k = 0; k < PHI3_W_KIND_COUNT; k++)
        for (int l = 0; l < (phi3_weight_is_per_layer((phi3_weight_kind)k) ? c->n_layers : 1); l++) {
            const phi3_tensor *a = phi3_source_weight(hf, (phi3_weight_kind)k, l), *b = phi3_source_weight(gg, (phi3_weight_kind)k, l);
            const fmt_gguf_tensor *gt = fmt_gguf_find_tensor(g, b->name);
            uint32_t want = a->n_dims == 1 ? FMT_GGML_F32 : expect[k];
            if (k == PHI3_W_DOWN && q == PHI3_QUANT_Q4_K_M) want = l == c->n_layers - 1 ? FMT_GGML_Q6_K : FMT_GGML_Q4_K;
            CHECK(gt && gt->type == want, "%s: %s is %s, expected %s", phi3_quant_name(q), b->name,
                  gt ? fmt_ggml_type_name(gt->type) : "missing", fmt_ggml_type_name(want));
            CHECK(gt && (gt->offset - fmt_gguf_data_offset(g)) % 32 == 0, "%s: %s not aligned to 32", phi3_quant_name(q), b->name);
            if (gt && fmt_quant_supported(want))
                CHECK(same_blocks(hf, a, gg, b, want), "%s: %s: blocks differ from fmt_quantize_row", phi3_quant_name(q), b->name);
            if (gt) bytes += gt->n_bytes;
        }
    CHECK(bytes == res.tensor_bytes, "%s: %llu tensor bytes, reported %llu", phi3_quant_name(q), (unsigned long long)bytes,
          (unsigned long long)res.tensor_bytes);
    printf("%-7s %llu bytes of tensors\n", phi3_quant_name(q), (unsigned long long)bytes);
    phi3_source_close(gg);
    phi3_source_close(hf);
}

static void part_schemes(const tok_tokenizer *tok) {
    char dir[300], err[1024] = "";
    phi3_synth_opts o;
    opts(&o, 256, 2);
    snprintf(dir, sizeof dir, "%s/f32", tmpdir);
    CHECK(phi3_synth_write(&o, dir, err, sizeof err) == 0, "synth: %s", err);
    /* by kind: embd, attn_norm, qkv, o, ffn_norm, gate_up, down, output_norm, output */
    const uint32_t F32 = FMT_GGML_F32, Q8 = FMT_GGML_Q8_0, Q4 = FMT_GGML_Q4_0, K4 = FMT_GGML_Q4_K, K5 = FMT_GGML_Q5_K,
                   K6 = FMT_GGML_Q6_K, F16 = FMT_GGML_F16;
    const uint32_t f16[] = {F16, F32, F16, F16, F32, F16, F16, F32, F16};
    const uint32_t q8[] = {Q8, F32, Q8, Q8, F32, Q8, Q8, F32, Q8};
    const uint32_t q4[] = {Q4, F32, Q4, Q4, F32, Q4, Q4, F32, K6};
    const uint32_t k4[] = {K4, F32, K4, K4, F32, K4, K4, F32, K6};
    const uint32_t k4m[] = {K4, F32, K5, K4, F32, K4, 0, F32, K6}; /* down: by layer */
    check_scheme(dir, tok, PHI3_QUANT_F16, f16);
    check_scheme(dir, tok, PHI3_QUANT_Q8_0, q8);
    check_scheme(dir, tok, PHI3_QUANT_Q4_0, q4);
    check_scheme(dir, tok, PHI3_QUANT_Q4_K, k4);
    check_scheme(dir, tok, PHI3_QUANT_Q4_K_M, k4m);
    /* rows of 64 values: no whole Q4_K / Q6_K super-block, so Q8_0 */
    opts(&o, 64, 1);
    snprintf(dir, sizeof dir, "%s/narrow", tmpdir);
    CHECK(phi3_synth_write(&o, dir, err, sizeof err) == 0, "synth: %s", err);
    const uint32_t narrow[] = {Q8, F32, Q8, Q8, F32, Q8, Q8, F32, Q8};
    check_scheme(dir, tok, PHI3_QUANT_Q4_K, narrow);
}

/* llama-quantize's Q4_K_M layer rule (use_more_bits) and the fallbacks. */
static void part_policy(void) {
    int more = 0;
    for (int l = 0; l < 32; l++) more += phi3_quant_type(PHI3_QUANT_Q4_K_M, PHI3_W_DOWN, l, 32, 8192, 0) == FMT_GGML_Q6_K;
    /* 32 layers: 0-3 and 28-31, then (l - 4) % 3 == 2 for l in 4..27: 6, 9, ..., 27 (8 layers) */
    CHECK(more == 16, "Q4_K_M: %d of 32 down projections Q6_K, expected 16", more);
    CHECK(phi3_quant_type(PHI3_QUANT_Q4_K_M, PHI3_W_DOWN, 6, 32, 8192, 0) == FMT_GGML_Q6_K &&
              phi3_quant_type(PHI3_QUANT_Q4_K_M, PHI3_W_DOWN, 5, 32, 8192, 0) == FMT_GGML_Q4_K,
          "Q4_K_M: layer 6 Q6_K, layer 5 Q4_K");
    CHECK(phi3_quant_type(PHI3_QUANT_Q8_0, PHI3_W_OUTPUT, 0, 32, 3072, 1) == FMT_GGML_Q8_0 &&
              phi3_quant_type(PHI3_QUANT_Q4_0, PHI3_W_EMBD, 0, 32, 3072, 1) == FMT_GGML_Q6_K &&
              phi3_quant_type(PHI3_QUANT_Q4_0, PHI3_W_EMBD, 0, 32, 3072, 0) == FMT_GGML_Q4_0,
          "lm_head types (a tied embedding is the lm_head)");
    CHECK(phi3_quant_type(PHI3_QUANT_Q4_K, PHI3_W_QKV, 0, 2, 96, 0) == FMT_GGML_Q8_0 &&
              phi3_quant_type(PHI3_QUANT_Q4_0, PHI3_W_QKV, 0, 2, 40, 0) == FMT_GGML_F16 &&
              phi3_quant_type(PHI3_QUANT_NONE, PHI3_W_QKV, 0, 2, 256, 0) == FMT_GGML_F16,
          "fallbacks");
    phi3_quant q;
    CHECK(phi3_quant_parse("Q4_K_M", &q) == 0 && q == PHI3_QUANT_Q4_K_M && phi3_quant_parse("q5_k", &q) == -1, "parse");
}

/* The input shrinks after the first tensor is written (the progress hook
 * truncates it): the next read, an F32 norm or a quantized matrix, fails
 * with "shrank" instead of killing the process. */
typedef struct shrink_ctx {
    const char *file;
    int done;
} shrink_ctx;

static void shrink_now(void *ctx, int index, int count, const char *name, uint64_t done, uint64_t total) {
    (void)count, (void)name, (void)done, (void)total;
    shrink_ctx *s = ctx;
    if (index == 0 && !s->done) s->done = truncate(s->file, 0) == 0;
}

static void part_shrink(const tok_tokenizer *tok) {
    const phi3_quant schemes[] = {PHI3_QUANT_NONE, PHI3_QUANT_Q4_K};
    for (size_t i = 0; i < 2; i++) {
        char dir[300], file[340], out[300], err[1024] = "";
        phi3_synth_opts o;
        opts(&o, 256, 1);
        snprintf(dir, sizeof dir, "%s/shrink%zu", tmpdir, i);
        snprintf(file, sizeof file, "%s/model.safetensors", dir);
        snprintf(out, sizeof out, "%s/shrunk%zu.gguf", tmpdir, i);
        CHECK(phi3_synth_write(&o, dir, err, sizeof err) == 0, "synth: %s", err);
        phi3_source *hf = phi3_source_open(dir, err, sizeof err);
        CHECK(hf, "%s", err);
        if (!hf) continue;
        shrink_ctx sc = {file, 0};
        phi3_convert_opts co = {.quant = schemes[i], .progress = shrink_now, .progress_ctx = &sc};
        int rc = phi3_convert_gguf(hf, tok, &co, out, NULL, err, sizeof err);
        CHECK(sc.done && rc == -1 && strstr(err, "shrank") && strstr(err, "blk.0") == NULL && strstr(err, "model.layers.0"),
              "%s: a shrinking input: rc %d, '%s'", phi3_quant_name(schemes[i]), rc, err);
        struct stat st;
        CHECK(stat(out, &st) != 0, "%s left behind", out);
        phi3_source_close(hf);
    }
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    tok_tokenizer *tok = tst_small_tokenizer(280);
    if (tok) {
        part_schemes(tok);
        part_shrink(tok);
    }
    part_policy();
    tok_destroy(tok);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
