/* bench_report_format: the rows as Markdown, CSV, JSON or JSON Lines. CSV
 * and JSON share one field list (row_field), so they always carry the same
 * fields under the same names. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* ---- the shared field list ---- */

static cJSON *profile_json(const void *ctx, const void *row) {
    (void)ctx;
    const bench_row *w = row;
    if (!w->has_profile) return cJSON_CreateNull();
    const bench_profile *p = &w->profile;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens", p->tokens);
    cJSON_AddNumberToObject(o, "op_ms", bench_round6(p->op_ms));
    cJSON_AddNumberToObject(o, "wall_ms", bench_round6(p->wall_ms));
    cJSON *ops = cJSON_AddArrayToObject(o, "ops");
    for (int i = 0; i < p->n_ops; i++) {
        const bench_op *op = &p->ops[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "op", op->op);
        cJSON_AddNumberToObject(e, "calls", op->calls);
        cJSON_AddNumberToObject(e, "ms", bench_round6(op->ms));
        cJSON_AddNumberToObject(e, "share", bench_round6(op->share));
        cJSON_AddNumberToObject(e, "gbps", bench_round6(op->gbps));
        cJSON_AddNumberToObject(e, "gflops", bench_round6(op->gflops));
        cJSON_AddItemToArray(ops, e);
    }
    return o;
}

static void profile_csv(bench_sb *b, const void *ctx, const void *row) {
    (void)ctx;
    const bench_row *w = row;
    for (int s = 0; w->has_profile && s < w->profile.n_ops; s++)
        bench_sb_printf(b, "%s%s:%d:%.4f", s ? ";" : "", w->profile.ops[s].op, w->profile.ops[s].calls,
                        w->profile.ops[s].ms);
}

static double or_nan(int has, double v) { return has ? v : NAN; }

/* Bytes on the device per parameter: 2 for f16, about 0.56 for q4_k_m. */
static double bytes_per_weight(const bench_row *w) {
    return w->model_params ? (double)w->model_bytes / (double)w->model_params : NAN;
}

/* Field i of row w; the order is the CSV column order (README: "Benchmark rows"). */
static int row_field(const void *ctx, const void *row, int i, bench_field *f) {
    const bench_report *r = ctx;
    const bench_row *w = row;
    const bench_judge_info *j = &w->judge;
    const bench_model_check *mc = &w->model_check;
    int judge = !strcmp(w->kind, "judge");
    if (i < BENCH_CONTEXT_FIELDS) {
        bench_context c = {.kind = w->kind, .version = r->version, .commit = r->commit, .date = w->date,
                           .host = &w->host, .dev = &w->dev, .driver_version = w->driver_version,
                           .vulkan_api = w->vulkan_api, .profile = w->device_profile, .clocks = &w->clocks};
        bench_context_field(&c, i, f);
        return 1;
    }
    switch (i) {
    case 27: *f = bench_str("model_name", w->model); break;
    case 28: *f = bench_int("model_params", (double)w->model_params); break;
    case 29: *f = bench_int("model_bytes", (double)w->model_bytes); break;
    case 30: *f = bench_str("model_type", w->model_type); break;
    case 31: *f = bench_num("model_bytes_per_weight", bytes_per_weight(w)); break;
    case 32: *f = bench_int("model_layers", w->model_layers); break;
    case 33: *f = bench_str("test", w->test); break;
    case 34: *f = bench_int("n_prompt", w->n_prompt); break;
    case 35: *f = bench_int("n_gen", w->n_gen); break;
    case 36: *f = bench_int("n_depth", w->depth); break;
    case 37: *f = bench_int("n_parallel", w->parallel); break;
    case 38: *f = bench_int("n_batch", w->n_batch); break;
    case 39: *f = bench_int("repetitions", w->reps); break;
    case 40: *f = bench_num("avg_ts", w->mean); break;
    case 41: *f = bench_num("stddev_ts", w->sd); break;
    case 42: *f = (bench_field){.name = "samples_ts", .kind = BENCH_F_NUMS, .a = w->samples, .n = w->reps}; break;
    case 43: *f = bench_int("avg_ns", round(w->mean_ns)); break;
    case 44: *f = bench_int("stddev_ns", round(w->sd_ns)); break;
    case 45: *f = (bench_field){.name = "samples_ns", .kind = BENCH_F_INTS, .a = w->samples_ns, .n = w->reps}; break;
    case 46: *f = bench_int("p50_ns", round(w->latency.p50)); break;
    case 47: *f = bench_int("p90_ns", round(w->latency.p90)); break;
    case 48: *f = bench_int("p99_ns", round(w->latency.p99)); break;
    case 49: *f = bench_int("ttft_avg_ns", round(w->ttft.avg)); break;
    case 50: *f = bench_int("ttft_p50_ns", round(w->ttft.p50)); break;
    case 51: *f = bench_int("ttft_p90_ns", round(w->ttft.p90)); break;
    case 52: *f = bench_int("ttft_p99_ns", round(w->ttft.p99)); break;
    case 53: *f = bench_int("tpot_avg_ns", round(w->tpot.avg)); break;
    case 54: *f = bench_int("tpot_p50_ns", round(w->tpot.p50)); break;
    case 55: *f = bench_int("tpot_p90_ns", round(w->tpot.p90)); break;
    case 56: *f = bench_int("tpot_p99_ns", round(w->tpot.p99)); break;
    case 57: *f = bench_int("judge_items", or_nan(judge, j->items)); break;
    case 58: *f = bench_int("judge_batch", or_nan(judge, j->batch)); break;
    case 59: *f = bench_str("judge_mode", judge ? (j->reason ? "reason" : "label") : NULL); break;
    case 60: *f = bench_str("judge_prompt", judge ? j->prompt : NULL); break;
    case 61: *f = bench_str("judge_dataset", judge ? j->dataset : NULL); break;
    case 62: *f = bench_str("judge_dataset_sha256", judge ? j->dataset_sha256 : NULL); break;
    case 63: *f = bench_num("items_per_s", or_nan(judge, j->items_per_s)); break;
    case 64: *f = bench_num("prompt_tokens_per_item", or_nan(judge && j->items, j->prompt_tokens / j->items)); break;
    case 65: *f = bench_num("generated_tokens_per_item", or_nan(judge && j->items, j->generated_tokens / j->items));
        break;
    case 66: *f = bench_str("judge_labels", judge ? j->labels : NULL); break;
    case 67: *f = bench_int("device_memory_bytes", (double)w->device_bytes); break;
    case 68: *f = bench_int("host_peak_rss_bytes", (double)w->host_rss_bytes); break;
    case 69: *f = bench_str("check", w->check.pass ? "pass" : "fail"); break;
    case 70: *f = bench_num("check_nmse", w->check.nmse); break;
    case 71: *f = bench_int("check_ids_match", w->check.ids_match); break;
    case 72: *f = bench_int("check_ids", ENG_CHECK_IDS); break;
    case 73: *f = bench_str("check_message", w->check.message); break;
    case 74: *f = bench_str("kernel_fallbacks", w->fallbacks); break;
    case 75: *f = bench_str("model_check", bench_model_check_status(mc)); break;
    case 76: *f = bench_num("model_check_nmse", mc->nmse); break;
    case 77: *f = bench_num("model_check_bound", BENCH_MODEL_CHECK_NMSE); break;
    case 78: *f = bench_int("model_check_agree", or_nan(mc->ran, mc->agree)); break;
    case 79: *f = bench_int("model_check_excused", or_nan(mc->ran, mc->excused)); break;
    case 80: *f = bench_int("model_check_positions", mc->positions); break;
    case 81: *f = bench_str("model_check_message", mc->ran ? mc->message : "skipped: --no-model-check"); break;
    case 82:
        *f = (bench_field){.name = "profile", .kind = BENCH_F_OBJECT, .json = profile_json, .csv = profile_csv};
        break;
    case 83: *f = bench_num("profile_op_ms", or_nan(w->has_profile, w->profile.op_ms)); break;
    case 84: *f = bench_num("profile_wall_ms", or_nan(w->has_profile, w->profile.wall_ms)); break;
    default: return 0;
    }
    return 1;
}

/* ---- Markdown ---- */

static void md_bytes(bench_sb *b, uint64_t n) {
    if (n >= (1ull << 30)) bench_sb_printf(b, "%.2f GiB", n / 1073741824.0);
    else bench_sb_printf(b, "%.1f MiB", n / 1048576.0);
}

static void md_ms(bench_sb *b, double ns) {
    if (isfinite(ns)) bench_sb_printf(b, "%.3g", ns / 1e6);
    else bench_sb_printf(b, "-");
}

/* Nanosecond values as ms joined by " / ", then " | " (the next cell). */
static void md_ms_cell(bench_sb *b, int n, const double *ns) {
    for (int i = 0; i < n; i++) {
        if (i) bench_sb_printf(b, " / ");
        md_ms(b, ns[i]);
    }
    bench_sb_printf(b, " | ");
}

static void md_profile(bench_sb *b, const bench_row *w) {
    const bench_profile *p = &w->profile;
    bench_sb_printf(b, "\nprofile of %s on %s (%s, %d token%s): ops %.2f ms, wall %.2f ms (%.1f%% outside the ops)\n\n",
                    w->test, w->dev.name, w->n_gen ? "one decode step" : "one prompt pass", p->tokens,
                    p->tokens == 1 ? "" : "s", p->op_ms, p->wall_ms,
                    p->wall_ms > 0 ? 100 * (p->wall_ms - p->op_ms) / p->wall_ms : 0);
    bench_sb_printf(b, "| op | calls | ms | share | GB/s | GFLOP/s |\n|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < p->n_ops; i++) {
        const bench_op *op = &p->ops[i];
        bench_sb_printf(b, "| %s | %d | %.3f | %.1f%% | ", op->op, op->calls, op->ms, op->share);
        if (op->gbps > 0) bench_sb_printf(b, "%.3g | %.3g |\n", op->gbps, op->gflops); /* prefill GB/s can be 0.02 */
        else bench_sb_printf(b, "- | - |\n");
    }
}

static const char *md_check(const bench_row *w) { return w->check.pass ? "pass" : "**FAIL**"; }
static const char *md_model_check(const bench_row *w) {
    return !w->model_check.ran ? "skipped" : w->model_check.pass ? "pass" : "**FAIL**";
}

/* One line per distinct device: what ran it, and both checks. */
static void md_devices(bench_sb *b, const bench_report *r) {
    bench_sb_printf(b, "| # | device | type | driver | version | driver info | Vulkan | profile | subgroup | clocks "
                       "MHz | check | model check |\n|---:|---|---|---|---|---|---|---|---:|---|---|---|\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        if (k > 0 && r->rows[k - 1].dev.index == w->dev.index && !strcmp(r->rows[k - 1].dev.name, w->dev.name)) continue;
        bench_sb_printf(b, "| %d | %s | %s | %s | %s | %s | %s | %s | %u | ", w->dev.index, w->dev.name, w->dev.type,
                        w->dev.driver_name, w->driver_version, w->dev.driver_info, w->vulkan_api, w->device_profile,
                        w->dev.subgroup_size);
        if (w->clocks.source[0]) bench_sb_printf(b, "%d / %d (%s) | ", w->clocks.gpu_mhz, w->clocks.mem_mhz, w->clocks.source);
        else bench_sb_printf(b, "- | ");
        bench_sb_printf(b, "%s (nmse %.2e)%s%s | %s", md_check(w), w->check.nmse, w->check.pass ? "" : ": ",
                        w->check.message, md_model_check(w));
        if (w->model_check.ran)
            bench_sb_printf(b, " (nmse %.2e, %d/%d agree)%s%s", w->model_check.nmse,
                            w->model_check.agree + w->model_check.excused, w->model_check.positions,
                            w->model_check.pass ? "" : ": ", w->model_check.message);
        bench_sb_printf(b, " |\n");
    }
}

static void md_results(bench_sb *b, const bench_report *r) {
    bench_sb_printf(b, "\n| # | model | params | size | type | test | t/s | samples | p50 / p99 ms | TTFT p50 ms "
                       "| TPOT p50 ms | device mem | peak RSS | check |\n"
                       "|---:|---|---:|---:|---|---|---:|---|---|---:|---:|---:|---:|---|\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        bench_sb_printf(b, "| %d | %s (%d layers) | ", w->dev.index, w->model, w->model_layers);
        if (w->model_params >= 1000000000u) bench_sb_printf(b, "%.2f B | ", w->model_params / 1e9);
        else bench_sb_printf(b, "%.1f M | ", w->model_params / 1e6);
        md_bytes(b, w->model_bytes);
        bench_sb_printf(b, " | %s (%.2f B/w) | %s | %.2f ± %.2f | ", w->model_type, bytes_per_weight(w), w->test,
                        w->mean, w->sd);
        for (int s = 0; s < w->reps; s++) bench_sb_printf(b, "%s%.2f", s ? ", " : "", w->samples[s]);
        bench_sb_printf(b, " | ");
        md_ms_cell(b, 2, (double[]){w->latency.p50, w->latency.p99});
        md_ms_cell(b, 1, &w->ttft.p50);
        md_ms_cell(b, 1, &w->tpot.p50);
        md_bytes(b, w->device_bytes);
        bench_sb_printf(b, " | ");
        md_bytes(b, w->host_rss_bytes);
        bench_sb_printf(b, " | %s%s |\n", md_check(w),
                        w->model_check.ran && !w->model_check.pass ? ", model **FAIL**" : "");
    }
}

/* The judge's rows: items/s, prompt tokens/s and per-item latency. */
static void md_judge(bench_sb *b, const bench_report *r) {
    bench_sb_printf(b, "\n| # | model | type | test | items | items/s | prompt t/s | item p50 / p90 / p99 ms "
                       "| TTFT p50 ms | TPOT p50 ms | prompt tokens / item | check |\n"
                       "|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|---|\n");
    for (int k = 0; k < r->n_rows; k++) {
        const bench_row *w = &r->rows[k];
        const bench_judge_info *j = &w->judge;
        bench_sb_printf(b, "| %d | %s | %s (%.2f B/w) | %s | %d x %d | %.3g | %.1f ± %.1f | ", w->dev.index, w->model,
                        w->model_type, bytes_per_weight(w), w->test, j->items, w->reps, j->items_per_s, w->mean, w->sd);
        md_ms_cell(b, 3, (double[]){w->latency.p50, w->latency.p90, w->latency.p99});
        md_ms_cell(b, 1, &w->ttft.p50);
        md_ms_cell(b, 1, &w->tpot.p50);
        bench_sb_printf(b, "%.1f | %s%s |\n", j->items ? j->prompt_tokens / j->items : 0, md_check(w),
                        w->model_check.ran && !w->model_check.pass ? ", model **FAIL**" : "");
    }
}

static char *format_md(const bench_report *r) {
    bench_sb b = {0};
    md_devices(&b, r);
    int judge = r->n_rows > 0 && !strcmp(r->rows[0].kind, "judge");
    if (judge) md_judge(&b, r);
    else md_results(&b, r);
    for (int k = 0; k < r->n_rows; k++)
        if (r->rows[k].has_profile) md_profile(&b, &r->rows[k]);
    const bench_host *h = r->n_rows ? &r->rows[0].host : NULL;
    bench_sb_printf(&b, "\nphi3vk %s (%s), %s; host: %s, %d cores, %s, %s; Vulkan loader %s; %s %s; schema %d\n",
                    r->version, r->commit, r->n_rows ? r->rows[0].date : "", h ? h->cpu : "", h ? h->cores : 0,
                    h ? h->os : "", h ? h->kernel : "", h ? h->loader : "", h ? h->compiler : "", h ? h->build : "",
                    BENCH_SCHEMA_VERSION);
    return bench_sb_done(&b);
}

char *bench_report_format(const bench_report *r, bench_format fmt) {
    if (fmt == BENCH_FMT_MD) return format_md(r);
    return bench_rows_format(fmt, row_field, r, r->rows, sizeof *r->rows, r->n_rows);
}
