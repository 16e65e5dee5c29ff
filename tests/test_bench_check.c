/* bench/: the check of the measured model, the new tests and the
 * statistics, on the test device (lavapipe in CI) with validation on.
 *
 * - the C reference (engine/ref.h) gives the same logits resident and
 *   streamed, and from a checkpoint file as from the synthetic generator;
 * - the model check passes on a working device (plain RoPE and LongRoPE) and
 *   FAILS when a kernel is planted wrong (PHI3VK_TEST_PLANT: the prefill
 *   matmul, and the decode matvec, which only its one-token positions use),
 *   and the report is then not valid; --no-model-check says "skipped";
 * - with quantized weights (--weights, a quantized GGUF) the reference
 *   computes with the device's dequantized blocks: as tight as fp16;
 * - -pg, --parallel and -d together: the rows' names, tokens/s from the
 *   counted tokens and times, TTFT within a repetition, TPOT;
 * - percentiles and Welch's test against values computed independently. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/model_check.h"
#include "bench/stats.h"
#include "engine/engine.h"
#include "engine/ref.h"
#include "lib/check.h"
#include "model/source.h"
#include "model/synth.h"

static const int32_t ids[5] = {1, 450, 7483, 310, 3444};

/* The reference three ways: resident, streamed on 3 threads, streamed from
 * an F32 file of the same weights: identical logits. */
static void reference_ways(void) {
    char err[512], dir[] = "/tmp/phi3vk-refXXXXXX";
    phi3_synth_opts so;
    phi3_synth_defaults(&so);
    so.seed = 7;
    int V = so.cfg.vocab;
    float *a = malloc(5u * V * sizeof *a), *b = malloc(5u * V * sizeof *b), *c = malloc(5u * V * sizeof *c);
    eng_ref *r1 = eng_ref_open(&(eng_ref_opts){.synth = &so, .n_ctx = 8}, err, sizeof err);
    eng_ref *r2 = eng_ref_open(&(eng_ref_opts){.synth = &so, .n_ctx = 8, .stream = 1, .threads = 3}, err, sizeof err);
    CHECK(r1 && r2, "eng_ref_open: %s", err);
    /* resident one token at a time, streamed all at once */
    int ok = r1 && r2 && a && b && c;
    for (int t = 0; ok && t < 5; t++) ok = eng_ref_step(r1, ids[t], a + (size_t)t * V) == 0;
    ok = ok && eng_ref_forward(r2, ids, 5, b, err, sizeof err) == 0;
    CHECK(ok, "reference forward failed: %s", err);
    if (ok) CHECK(!memcmp(a, b, 5u * V * sizeof *a), "streamed logits differ from resident ones");
    CHECK(r2 && eng_ref_forward(r2, ids, 4, b, err, sizeof err) == -1 && strstr(err, "exceed"),
          "a forward past the cache was accepted");
    eng_ref_destroy(r1), eng_ref_destroy(r2);
    if (mkdtemp(dir) && phi3_synth_write(&so, dir, err, sizeof err) == 0) {
        phi3_source *src = phi3_source_open(dir, err, sizeof err);
        eng_ref *r3 = src ? eng_ref_open(&(eng_ref_opts){.src = src, .n_ctx = 8, .stream = 1, .threads = 2}, err,
                                         sizeof err)
                          : NULL;
        CHECK(r3 && eng_ref_forward(r3, ids, 5, c, err, sizeof err) == 0, "reference from the file: %s", err);
        if (r3 && ok) CHECK(!memcmp(a, c, 5u * V * sizeof *a), "the file's reference differs from the generator's");
        eng_ref_destroy(r3);
        phi3_source_close(src);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "rm %s", dir);
    } else {
        CHECK(0, "writing the synthetic checkpoint to %s: %s", dir, err);
    }
    free(a), free(b), free(c);
}

static void model_check_synthetic(vkr_ctx *vk, int longrope) {
    char err[512];
    phi3_synth_opts so;
    phi3_synth_defaults(&so);
    so.seed = 11;
    if (longrope) phi3_synth_longrope(&so.cfg, 64);
    eng_model *m = eng_model_synthetic(&so, &(eng_model_opts){.vk = vk}, err, sizeof err);
    CHECK(m != NULL, "synthetic model: %s", err);
    if (!m) return;
    bench_model_check mc;
    int rc = bench_model_check_run(m, &(bench_model_source){.synth = &so}, 2, &mc);
    printf("model check%s: nmse %.3g, %d/%d agree (+%d near-ties), device %.2f s, reference %.2f s\n",
           longrope ? " (LongRoPE)" : "", mc.nmse, mc.agree, mc.positions, mc.excused, mc.dev_s, mc.ref_s);
    CHECK(rc == 0 && mc.pass && mc.ran, "model check failed on a working device: %s", mc.message);
    CHECK(mc.nmse < 1e-5 && mc.agree == BENCH_MODEL_CHECK_TOKENS, "nmse %g, %d agree", mc.nmse, mc.agree);
    eng_model_close(m);
}

/* Quantized weights (--weights, or a quantized GGUF as stored): the
 * reference computes with the same dequantized blocks, so the check passes
 * as tightly as for fp16; a reference of the unquantized weights is told
 * apart from the Q4_0 model (the check sees what the device holds). */
static void model_check_quantized(vkr_ctx *vk) {
    char err[512], dir[] = "/tmp/phi3vk-refqXXXXXX", path[600];
    phi3_synth_opts so;
    phi3_synth_defaults(&so);
    so.seed = 13;
    const phi3_quant schemes[] = {PHI3_QUANT_Q4_0, PHI3_QUANT_Q4_K_M, PHI3_QUANT_Q8_0};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        phi3_quant q = schemes[i];
        eng_model *m = eng_model_synthetic(&so, &(eng_model_opts){.vk = vk, .weights = q}, err, sizeof err);
        CHECK(m != NULL, "synthetic %s model: %s", phi3_quant_name(q), err);
        if (!m) continue;
        bench_model_check mc, plain;
        int rc = bench_model_check_run(m, &(bench_model_source){.synth = &so, .weights = q}, 2, &mc);
        printf("model check (%s: %s): nmse %.3g, %d/%d agree\n", phi3_quant_name(q), eng_model_weight_types(m), mc.nmse,
               mc.agree, mc.positions);
        CHECK(rc == 0 && mc.pass && mc.nmse < 1e-5, "%s: model check nmse %g: %s", phi3_quant_name(q), mc.nmse,
              mc.message);
        if (q == PHI3_QUANT_Q4_0) {
            bench_model_check_run(m, &(bench_model_source){.synth = &so}, 2, &plain);
            printf("Q4_0 model against the fp16 reference: nmse %.3g (%s)\n", plain.nmse, plain.message);
            CHECK(!plain.pass && plain.nmse > 1e-3, "Q4_0 model passed against the fp16 weights (nmse %g)", plain.nmse);
        }
        eng_model_close(m);
    }
    /* a Q4_0 GGUF loaded as stored: the reference reads its blocks */
    so.gguf = 1, so.quant = PHI3_QUANT_Q4_0;
    snprintf(path, sizeof path, "%s/q4_0.gguf", mkdtemp(dir) ? dir : "/tmp");
    eng_model *m = phi3_synth_write(&so, path, err, sizeof err) == 0
                       ? eng_model_open(path, &(eng_model_opts){.vk = vk}, err, sizeof err)
                       : NULL;
    CHECK(m != NULL, "Q4_0 GGUF %s: %s", path, err);
    if (m) {
        bench_model_check mc;
        int rc = bench_model_check_run(m, &(bench_model_source){.path = path}, 2, &mc);
        printf("model check (Q4_0 GGUF as stored: %s): nmse %.3g\n", eng_model_weight_types(m), mc.nmse);
        CHECK(rc == 0 && mc.pass && mc.nmse < 1e-5, "Q4_0 GGUF: model check nmse %g: %s", mc.nmse, mc.message);
        eng_model_close(m);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "rm %s", dir);
}

/* A runtime whose named shaders are dispatched wrongly (the test hook). */
static vkr_ctx *planted_ctx(const char *plant) {
    char err[512];
    setenv("PHI3VK_TEST_PLANT", plant, 1);
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1}, err, sizeof err);
    unsetenv("PHI3VK_TEST_PLANT");
    CHECK(vk != NULL, "vkr_ctx_create: %s", err);
    return vk;
}

static int run(bench_opts *o, bench_report *rep) {
    char err[1024];
    int rc = bench_run(o, rep, err, sizeof err);
    if (rc) fprintf(stderr, "bench_run: %s\n", err);
    return rc;
}

static void tiny(bench_opts *o, vkr_ctx *vk) {
    bench_opts_defaults(o);
    o->synthetic = "tiny", o->vk = vk, o->reps = 1;
    o->pp[0] = 8, o->tg[0] = 2;
}

/* A planted wrong kernel makes the model check fail in the rows and in
 * every format; the report is not valid. */
static void planted(const char *plant) {
    vkr_ctx *vk = planted_ctx(plant);
    if (!vk) return;
    bench_opts o;
    bench_report rep;
    tiny(&o, vk);
    if (run(&o, &rep) == 0) {
        for (int i = 0; i < rep.n_rows; i++) {
            const bench_model_check *mc = &rep.rows[i].model_check;
            CHECK(mc->ran && !mc->pass && mc->message[0], "%s planted: row %d model check passed", plant, i);
            CHECK(!(mc->nmse <= BENCH_MODEL_CHECK_NMSE) || mc->agree + mc->excused < mc->positions,
                  "%s planted: row %d within the bound (nmse %g)", plant, i, mc->nmse);
        }
        printf("%s planted: %s\n", plant, rep.n_rows ? rep.rows[0].model_check.message : "");
        CHECK(!bench_report_valid(&rep), "%s planted: the report is valid", plant);
        char *j = bench_report_format(&rep, BENCH_FMT_JSONL);
        CHECK(j && strstr(j, "\"model_check\":\"fail\"") && !strstr(j, "\"model_check\":\"pass\""),
              "%s planted: jsonl does not say model_check fail", plant);
        free(j);
        bench_report_free(&rep);
    } else {
        CHECK(0, "bench_run failed");
    }
    vkr_ctx_destroy(vk);
}

static const cJSON *field(const cJSON *o, const char *name) { return cJSON_GetObjectItemCaseSensitive(o, name); }

/* -pg, --parallel and -d: names, counted tokens, TTFT/TPOT. */
static void new_tests(vkr_ctx *vk) {
    bench_opts o;
    bench_report rep;
    tiny(&o, vk);
    o.reps = 2, o.parallel = 2, o.no_model_check = 1;
    o.pg[0][0] = 8, o.pg[0][1] = 3, o.n_pg = 1;
    o.depth[0] = 0, o.depth[1] = 4, o.n_depth = 2;
    static const char *const want[] = {"pp8@p2", "tg2@p2", "pp8+tg3@p2", "pp8@d4@p2", "tg2@d4@p2", "pp8+tg3@d4@p2"};
    if (run(&o, &rep)) {
        CHECK(0, "bench_run failed");
        return;
    }
    CHECK(rep.n_rows == 6, "%d rows, expected 6", rep.n_rows);
    for (int i = 0; i < rep.n_rows && i < 6; i++) {
        const bench_row *w = &rep.rows[i];
        CHECK(!strcmp(w->test, want[i]), "row %d: %s, expected %s", i, w->test, want[i]);
        CHECK(w->parallel == 2 && w->reps == 2 && !strcmp(w->model_check.message, "") && !w->model_check.ran,
              "row %d: fields", i);
        for (int r = 0; r < w->reps; r++) { /* t/s = every sequence's tokens / the repetition's time */
            double tokens = 2.0 * (w->n_prompt + w->n_gen);
            CHECK(fabs(w->samples[r] * w->samples_ns[r] * 1e-9 - tokens) < 1e-6 * tokens,
                  "row %d rep %d: %g t/s x %g ns is not %g tokens", i, r, w->samples[r], w->samples_ns[r], tokens);
        }
        CHECK(w->latency.p50 >= 0 && w->latency.p50 <= w->latency.p90 && w->latency.p90 <= w->latency.p99,
              "row %d: percentiles out of order", i);
        CHECK(w->ttft.avg > 0 && w->ttft.avg <= w->latency.p99 * 1.000001, "row %d: ttft %g vs a rep's %g", i,
              w->ttft.avg, w->latency.p99);
        CHECK(w->n_gen ? w->tpot.avg > 0 : isnan(w->tpot.avg), "row %d: tpot %g", i, w->tpot.avg);
    }
    char *text = bench_report_format(&rep, BENCH_FMT_JSONL);
    cJSON *first = text ? cJSON_Parse(text) : NULL;
    CHECK(first && !strcmp(field(first, "model_check")->valuestring, "skipped") &&
              strstr(field(first, "model_check_message")->valuestring, "--no-model-check") &&
              cJSON_IsNull(field(first, "model_check_nmse")),
          "--no-model-check: the row does not say skipped");
    CHECK(bench_report_valid(&rep), "a skipped model check made the report invalid");
    cJSON_Delete(first);
    free(text);
    bench_report_free(&rep);
}

static void statistics(void) {
    double a[] = {1, 2, 3, 4, 5}, b[] = {2, 3, 4, 5, 6}, t, df;
    /* Student's t with 8 degrees of freedom at |t| = 1: p = 0.346593507 (by numerical integration) */
    double p = bench_welch_p(a, 5, b, 5, &t, &df);
    CHECK(fabs(p - 0.3465935071) < 1e-8 && t == -1 && fabs(df - 8) < 1e-12, "welch p %.10f t %g df %g", p, t, df);
    double c[] = {10, 10.2, 9.9, 10.1}, d[] = {12, 12.3, 11.8, 12.1};
    p = bench_welch_p(c, 4, d, 4, &t, &df);
    CHECK(p < 1e-4 && p > 1e-6, "clearly different means: p %g", p);
    CHECK(isnan(bench_welch_p(a, 1, b, 5, &t, &df)), "one sample has no spread");
    double e[] = {3, 3, 3};
    CHECK(bench_welch_p(e, 3, e, 3, &t, &df) == 1 && bench_welch_p(e, 3, c, 3, &t, &df) < 0.05,
          "no spread: equal means p 1, different means small p");
    CHECK(fabs(bench_inc_beta(0.3, 2, 3) - 0.3483) < 1e-12, "I_0.3(2, 3) = %.15g", bench_inc_beta(0.3, 2, 3));
    CHECK(bench_percentile((double[]){4, 1, 3, 2}, 4, 50) == 2.5, "p50 of 1..4");
    CHECK(fabs(bench_percentile(a, 5, 99) - 4.96) < 1e-12 && bench_percentile(a, 5, 0) == 1, "p99 / p0 of 1..5");
}

int main(void) {
    statistics();
    reference_ways();
    char err[1024];
    vkr_ctx *vk = vkr_ctx_create(&(vkr_ctx_opts){.validate = 1, .cache_dir = "", .quiet = 1}, err, sizeof err);
    if (!vk) {
        if (strstr(err, "no Vulkan")) test_skip(err);
        fprintf(stderr, "vkr_ctx_create: %s\n", err);
        return 1;
    }
    model_check_synthetic(vk, 0);
    model_check_synthetic(vk, 1);
    model_check_quantized(vk);
    new_tests(vk);
    planted("matmul*");
    planted("matvec*");
    int msgs = vkr_ctx_validation_messages(vk);
    CHECK(msgs == 0, "%d validation messages", msgs);
    vkr_ctx_destroy(vk);
    return test_finish();
}
