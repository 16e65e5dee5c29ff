/* bench/: the benchmark library at tiny sizes on the test device (lavapipe
 * in CI) with the validation layer on.
 *
 * - bench_run on the synthetic tiny model, -p 16 -n 4 -d 0,8 -r 1 --profile:
 *   four rows with the right names, sizes and positive speeds;
 * - every output format: JSON and JSON Lines parse with cJSON and hold every
 *   field the issue asks for with the right type; CSV has a header with the
 *   same fields and one line of as many cells per row; Markdown has the
 *   tables;
 * - the attestation passes on a working device, with a reference margin far
 *   above the device's rounding, and fails (check: fail in every format)
 *   when eng_check_corrupt_for_test corrupts the reference;
 * - the profile's matrix FLOPs and weight bytes are exactly those of the
 *   forward pass: every layer on every token, except the last layer's
 *   o_proj and MLP and lm_head, which run on the last token of a prefill;
 * - bad options are refused with a message. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "lib/check.h"
#include "model/synth.h"
#include "kernels/kernels.h"
#include "vk/vkr.h"

/* The fields every JSON/CSV row must carry (the issues' lists). */
static const char *const str_fields[] = {
    "kind", "phi3vk_version", "phi3vk_commit", "date", "host_cpu", "host_os", "host_kernel", "vulkan_loader",
    "compiler", "build_flags", "device_name", "device_vendor", "device_type", "driver_name", "driver_info",
    "driver_version", "vulkan_api", "clock_source", "model_name", "model_type", "test", "check", "check_message",
    "device_profile", "kernel_fallbacks", "model_check", "model_check_message"};
static const char *const num_fields[] = {
    "schema_version", "host_cores", "device_index", "subgroup_size", "model_params", "model_bytes", "model_layers",
    "n_prompt", "n_gen", "n_depth", "n_parallel", "n_batch", "repetitions", "avg_ts", "stddev_ts", "avg_ns",
    "stddev_ns", "p50_ns", "p90_ns", "p99_ns", "ttft_avg_ns", "ttft_p50_ns", "ttft_p90_ns", "ttft_p99_ns",
    "device_memory_bytes", "host_peak_rss_bytes", "check_nmse", "check_ids_match", "check_ids", "model_check_nmse",
    "model_check_bound", "model_check_agree", "model_check_excused", "model_check_positions"};
/* may be empty: what the host or driver does not report */
static const char *const may_be_empty[] = {"check_message", "model_check_message", "clock_source", "host_cpu",
                                           "build_flags"};
#define N_STR (int)(sizeof str_fields / sizeof str_fields[0])
#define N_NUM (int)(sizeof num_fields / sizeof num_fields[0])

static const char *const want_tests[] = {"pp16", "tg4", "pp16@d8", "tg4@d8"};

static void check_row_json(const cJSON *o, int row, const char *want_check) {
    CHECK(cJSON_IsObject(o), "row %d is not an object", row);
    for (int i = 0; i < N_STR; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, str_fields[i]);
        CHECK(cJSON_IsString(v), "row %d: %s missing or not a string", row, str_fields[i]);
        int empty_ok = 0;
        for (size_t k = 0; k < sizeof may_be_empty / sizeof may_be_empty[0]; k++)
            empty_ok |= !strcmp(str_fields[i], may_be_empty[k]);
        if (cJSON_IsString(v) && !empty_ok) CHECK(v->valuestring[0], "row %d: %s is empty", row, str_fields[i]);
    }
    for (int i = 0; i < N_NUM; i++)
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, num_fields[i])), "row %d: %s missing or not a number",
              row, num_fields[i]);
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples_ts");
    CHECK(cJSON_IsArray(samples) && cJSON_GetArraySize(samples) == 1, "row %d: samples_ts not an array of 1", row);
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(o, "samples_ns");
    CHECK(cJSON_IsArray(ns) && cJSON_GetArraySize(ns) == 1, "row %d: samples_ns not an array of 1", row);
    double avg_ns = cJSON_GetObjectItemCaseSensitive(o, "avg_ns")->valuedouble;
    CHECK(ns && cJSON_GetArraySize(ns) == 1 && cJSON_GetArrayItem(ns, 0)->valuedouble == avg_ns &&
              avg_ns == floor(avg_ns) && avg_ns > 0,
          "row %d: samples_ns / avg_ns not the same whole nanoseconds", row);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "schema_version")->valueint == BENCH_SCHEMA_VERSION,
          "row %d: schema_version", row);
    /* TPOT only where tokens are generated after the first: null for pp */
    int gen = cJSON_GetObjectItemCaseSensitive(o, "n_gen")->valueint > 0;
    CHECK(gen ? cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "tpot_p50_ns"))
              : cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "tpot_p50_ns")),
          "row %d: tpot_p50_ns should be %s", row, gen ? "a number" : "null");
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(o, "test");
    if (want_check) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "check");
        CHECK(cJSON_IsString(c) && !strcmp(c->valuestring, want_check), "row %d: check is not %s", row, want_check);
    }
    if (row < 4 && cJSON_IsString(test))
        CHECK(!strcmp(test->valuestring, want_tests[row]), "row %d: test %s, expected %s", row, test->valuestring,
              want_tests[row]);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "avg_ts")->valuedouble > 0, "row %d: avg_ts <= 0", row);
    CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(o, "model_type")->valuestring, "f16"), "row %d: model_type", row);
    /* --profile: ops with calls, times, shares adding up to 100% */
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "profile");
    CHECK(cJSON_IsObject(p), "row %d: profile missing", row);
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(p, "ops");
    CHECK(cJSON_IsArray(ops) && cJSON_GetArraySize(ops) >= 5, "row %d: profile.ops has < 5 ops", row);
    double share = 0;
    int matrix = 0;
    const cJSON *op;
    cJSON_ArrayForEach(op, ops) {
        share += cJSON_GetObjectItemCaseSensitive(op, "share")->valuedouble;
        const char *name = cJSON_GetObjectItemCaseSensitive(op, "op")->valuestring;
        if (!strcmp(name, "matmul") || !strcmp(name, "matvec"))
            matrix += cJSON_GetObjectItemCaseSensitive(op, "gbps")->valuedouble > 0;
    }
    CHECK(fabs(share - 100) < 0.1, "row %d: op shares add up to %g%%", row, share);
    CHECK(matrix >= 1, "row %d: no matrix op with a GB/s figure", row);
    CHECK(cJSON_GetObjectItemCaseSensitive(p, "wall_ms")->valuedouble > 0, "row %d: profile.wall_ms", row);
}

static void check_json(const bench_report *rep, const char *want_check) {
    char *text = bench_report_format(rep, BENCH_FMT_JSON);
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_IsArray(a) && cJSON_GetArraySize(a) == rep->n_rows, "json: not an array of %d rows", rep->n_rows);
    for (int i = 0; a && i < cJSON_GetArraySize(a); i++) check_row_json(cJSON_GetArrayItem(a, i), i, want_check);
    cJSON_Delete(a);
    free(text);

    text = bench_report_format(rep, BENCH_FMT_JSONL);
    int lines = 0;
    for (char *line = text, *nl; line && (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        CHECK(o != NULL, "jsonl line %d does not parse", lines + 1);
        if (o) check_row_json(o, lines, want_check);
        cJSON_Delete(o);
    }
    CHECK(lines == rep->n_rows, "jsonl: %d lines for %d rows", lines, rep->n_rows);
    free(text);
}

/* Splits one CSV line into cells (RFC 4180 quotes); returns the count. */
static int csv_cells(const char *line, char cells[][512], int max) {
    int n = 0;
    const char *p = line;
    for (;;) {
        int k = 0, q = *p == '"';
        if (q) p++;
        while (*p && (q || *p != ',')) {
            if (q && *p == '"') {
                if (p[1] == '"') p++;
                else {
                    q = 0, p++;
                    continue;
                }
            }
            if (n < max && k < 511) cells[n][k++] = *p;
            p++;
        }
        if (n < max) cells[n][k] = 0;
        n++;
        if (*p != ',') return n;
        p++;
    }
}

static void check_csv(const bench_report *rep, const char *want_check) {
    static char head[128][512], cells[128][512];
    char *text = bench_report_format(rep, BENCH_FMT_CSV);
    CHECK(text != NULL, "csv: NULL");
    if (!text) return;
    char *line = text, *nl = strchr(line, '\n');
    CHECK(nl != NULL, "csv: no header line");
    if (!nl) goto done;
    *nl = 0;
    int nh = csv_cells(line, head, 128), check_col = -1, test_col = -1;
    for (int i = 0; i < N_STR + N_NUM; i++) {
        const char *want = i < N_STR ? str_fields[i] : num_fields[i - N_STR];
        int found = 0;
        for (int j = 0; j < nh; j++) found |= !strcmp(head[j], want);
        CHECK(found, "csv header lacks %s", want);
    }
    for (int j = 0; j < nh; j++) {
        if (!strcmp(head[j], "check")) check_col = j;
        if (!strcmp(head[j], "test")) test_col = j;
    }
    int rows = 0;
    for (line = nl + 1; (nl = strchr(line, '\n')); line = nl + 1, rows++) {
        *nl = 0;
        int n = csv_cells(line, cells, 128);
        CHECK(n == nh, "csv row %d: %d cells, header has %d", rows + 1, n, nh);
        if (n != nh || check_col < 0 || test_col < 0) continue;
        if (want_check) CHECK(!strcmp(cells[check_col], want_check), "csv row %d: check %s", rows + 1, cells[check_col]);
        if (rows < 4) CHECK(!strcmp(cells[test_col], want_tests[rows]), "csv row %d: test %s", rows + 1, cells[test_col]);
    }
    CHECK(rows == rep->n_rows, "csv: %d rows for %d results", rows, rep->n_rows);
done:
    free(text);
}

static void check_md(const bench_report *rep, int pass) {
    char *text = bench_report_format(rep, BENCH_FMT_MD);
    CHECK(text && strstr(text, "| # | device | type | driver |") && strstr(text, "| check | model check |"),
          "md: no device table");
    CHECK(text && strstr(text, "| test | t/s | samples |"), "md: no result table");
    CHECK(text && strstr(text, rep->rows[0].dev.name), "md: no device name");
    CHECK(text && strstr(text, "| pp16 |") && strstr(text, "| tg4@d8 |"), "md: missing test rows");
    CHECK(text && strstr(text, "profile of pp16") && strstr(text, "| op | calls | ms |"), "md: no profile table");
    CHECK(text && (strstr(text, "**FAIL**") != NULL) == !pass, "md: check shown as %s", pass ? "FAIL" : "pass");
    free(text);
}

static int run(bench_opts *o, bench_report *rep) {
    char err[1024];
    int rc = bench_run(o, rep, err, sizeof err);
    if (rc) fprintf(stderr, "bench_run: %s\n", err);
    return rc;
}

static void tiny_opts(bench_opts *o, vkr_ctx *vk) {
    bench_opts_defaults(o);
    o->synthetic = "tiny", o->vk = vk, o->reps = 1, o->profile = 1;
    o->pp[0] = 16, o->tg[0] = 4;
    o->depth[0] = 0, o->depth[1] = 8, o->n_depth = 2;
}

static void bad_options(vkr_ctx *vk) {
    bench_opts o;
    bench_report rep;
    char err[1024];
    struct { const char *what, *expect; } cases[] = {
        {"model and synthetic", "exactly one"}, {"reps 0", "-r"}, {"too deep", "exceed the model's context"},
        {"unknown preset", "unknown preset"}, {"nothing to run", "no test"}};
    for (int i = 0; i < 5; i++) {
        tiny_opts(&o, vk);
        o.profile = 0;
        if (i == 0) o.model = "x";
        if (i == 1) o.reps = 0;
        if (i == 2) o.depth[1] = 5000;
        if (i == 3) o.synthetic = "phi9";
        if (i == 4) o.pp[0] = 0, o.tg[0] = 0;
        err[0] = 0;
        CHECK(bench_run(&o, &rep, err, sizeof err) == -1, "%s accepted", cases[i].what);
        CHECK(strstr(err, cases[i].expect) != NULL, "%s: message '%s' lacks '%s'", cases[i].what, err, cases[i].expect);
        CHECK(rep.n_rows == 0 && rep.rows == NULL, "%s: rows left behind", cases[i].what);
    }
}

/* The matrix ops of one pass of T tokens (T = 1: a decode step): FLOPs and
 * weight bytes (rows padded to kern_ld, read once per dispatch). */
static void want_cost(const phi3_config *c, int T, double *flops, double *bytes) {
    double H = c->hidden, QD = (double)c->n_heads * c->head_dim, F = c->intermediate, V = c->vocab;
    double QKV = (double)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    double ldH = kern_ld((uint32_t)H), ldQ = kern_ld((uint32_t)QD), ldF = kern_ld((uint32_t)F);
    double rest = H * QD + 2 * F * H + H * F; /* o_proj, gate_up, down */
    *flops = 2 * ((c->n_layers * QKV * H + (c->n_layers - 1) * rest) * T + rest + V * H);
    *bytes = 2 * (c->n_layers * (QKV * ldH + H * ldQ + 2 * F * ldH + H * ldF) + V * ldH);
}

static void check_profile_cost(const bench_row *w, int row) {
    phi3_config cfg;
    char err[256];
    if (phi3_synth_preset(&cfg, "tiny", err, sizeof err)) {
        CHECK(0, "tiny preset: %s", err);
        return;
    }
    double want_f, want_b, got_f = 0, got_b = 0;
    want_cost(&cfg, w->n_prompt ? w->n_prompt : 1, &want_f, &want_b);
    for (int i = 0; i < w->profile.n_ops; i++) {
        const bench_op *op = &w->profile.ops[i];
        got_f += op->gflops * op->ms * 1e6, got_b += op->gbps * op->ms * 1e6;
    }
    CHECK(fabs(got_f - want_f) <= 1e-9 * want_f, "row %d (%s): matrix FLOPs %.0f, expected %.0f", row, w->test, got_f,
          want_f);
    CHECK(fabs(got_b - want_b) <= 1e-9 * want_b, "row %d (%s): weight bytes %.0f, expected %.0f", row, w->test, got_b,
          want_b);
}

int main(void) {
    char err[1024];
    vkr_ctx_opts vo = {.validate = 1, .profile = 1, .cache_dir = "", .quiet = 1};
    vkr_ctx *vk = vkr_ctx_create(&vo, err, sizeof err);
    if (!vk) {
        if (strstr(err, "no Vulkan")) test_skip(err);
        fprintf(stderr, "vkr_ctx_create: %s\n", err);
        return 1;
    }

    /* the attestation on its own: passes, with margin; fails when corrupted */
    eng_check_result cr;
    CHECK(eng_check_run(vk, &cr) == 0 && cr.pass, "check failed on a working device: %s", cr.message);
    CHECK(cr.nmse <= ENG_CHECK_NMSE && cr.ids_match == ENG_CHECK_IDS, "nmse %g, ids %d", cr.nmse, cr.ids_match);
    CHECK(cr.ref_margin > 0.5, "reference greedy margin %g is too close to a tie for a fixed check", cr.ref_margin);
    printf("check: nmse %.3g, %d/%d ids, reference margin %.2f, %.0f ms\n", cr.nmse, cr.ids_match, ENG_CHECK_IDS,
           cr.ref_margin, cr.ms);
    eng_check_corrupt_for_test(1);
    CHECK(eng_check_run(vk, &cr) == -1 && !cr.pass && cr.message[0], "corrupted check passed");
    printf("corrupted check: %s\n", cr.message);
    eng_check_corrupt_for_test(0);

    /* the whole bench, every format */
    bench_opts o;
    bench_report rep;
    tiny_opts(&o, vk);
    if (run(&o, &rep) == 0) {
        CHECK(rep.n_rows == 4, "%d rows, expected 4", rep.n_rows);
        for (int i = 0; i < rep.n_rows && i < 4; i++) {
            const bench_row *w = &rep.rows[i];
            CHECK(!strcmp(w->test, want_tests[i]), "row %d: %s", i, w->test);
            CHECK(w->reps == 1 && w->mean > 0 && w->mean == w->samples[0] && w->sd == 0, "row %d: stats", i);
            CHECK(w->check.pass, "row %d: check failed: %s", i, w->check.message);
            CHECK(w->model_layers == 2 && w->model_params > 0 && w->model_bytes >= 2 * w->model_params,
                  "row %d: model fields", i);
            CHECK(w->device_bytes > w->model_bytes && w->host_rss_bytes > 0, "row %d: memory fields", i);
            CHECK(w->has_profile && w->profile.op_ms > 0 && w->profile.op_ms <= w->profile.wall_ms * 1.05,
                  "row %d: profile op %g ms vs wall %g ms", i, w->profile.op_ms, w->profile.wall_ms);
            check_profile_cost(w, i);
        }
        check_json(&rep, "pass");
        check_csv(&rep, "pass");
        check_md(&rep, 1);
        char *md = bench_report_format(&rep, BENCH_FMT_MD);
        if (md) fputs(md, stdout);
        free(md);
        bench_report_free(&rep);
    } else {
        CHECK(0, "bench_run failed");
    }

    /* a corrupted reference shows as check fail in every format */
    eng_check_corrupt_for_test(1);
    if (run(&o, &rep) == 0) {
        for (int i = 0; i < rep.n_rows; i++) CHECK(!rep.rows[i].check.pass, "row %d passed while corrupted", i);
        check_json(&rep, "fail");
        check_csv(&rep, "fail");
        check_md(&rep, 0);
        bench_report_free(&rep);
    } else {
        CHECK(0, "bench_run failed");
    }
    eng_check_corrupt_for_test(0);

    bad_options(vk);
    bench_format f;
    CHECK(bench_format_parse("jsonl", &f) == 0 && f == BENCH_FMT_JSONL, "jsonl");
    CHECK(bench_format_parse("xml", &f) == -1, "xml accepted");

    int msgs = vkr_ctx_validation_messages(vk);
    CHECK(msgs == 0, "%d validation messages", msgs);
    vkr_ctx_destroy(vk);
    return test_finish();
}
