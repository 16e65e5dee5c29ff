/* Fuzz target for the judge dataset readers: arbitrary bytes through every
 * format (text, tsv, tsv-quoted, csv, jsonl) with and without header, id and
 * label columns, then class mapping and selection on whatever parsed, and
 * label snapping of the raw bytes, which are also parsed as a results line. The first byte picks the options:
 *   bits 0-2: format (value % 5: text, tsv, tsv-quoted, csv, jsonl)
 *   bit 3: no_header   bit 4: read labels   bit 5: read ids
 *   bit 6: keep the column "keep" ("2" without a header; --keep-cols), and
 *          write every item's record as JSONL, CSV, TSV and hf
 * Invariants checked with abort(): items hold what the header says (no NUL
 * in text, text[text_len] == 0, non-empty unique ids); a kept value is one
 * JSON value, and a record carrying it is one valid JSON object. */
#define _DEFAULT_SOURCE /* open_memstream */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "judge/dataset.h"
#include "judge/label.h"
#include "judge/output.h"
#include "judge/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The item's record with its kept value, in every output format. */
static void check_record(const judge_dataset *ds, const judge_item *it) {
    if (!it->keep || !it->keep[0]) abort();
    cJSON *v = cJSON_Parse(it->keep[0]);
    if (!v) abort();
    cJSON_Delete(v);
    judge_result r = {.id = it->id, .label = JUDGE_TOXIC, .p_toxic = 0.75, .n_keep = ds->n_keep};
    r.keep_names = (const char *const *)ds->keep_names;
    r.keep_values = (const char *const *)it->keep;
    char *line = judge_result_line(&r, NULL);
    cJSON *o = line ? cJSON_Parse(line) : NULL;
    if (line && (!cJSON_IsObject(o) || cJSON_GetArraySize(o) != 8)) abort(); /* 7 fields (no text_sha256) and the kept one */
    cJSON_Delete(o);
    free(line);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (int fmt = JUDGE_OUTPUT_CSV; f && fmt <= JUDGE_OUTPUT_HF; fmt++) {
        judge_output w = {f, (judge_output_format)fmt, 0};
        judge_output_begin(&w, (const char *const *)ds->keep_names, ds->n_keep);
        judge_output_record(&w, &r);
        judge_output_end(&w);
    }
    if (f) fclose(f);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    static const judge_format formats[5] = {JUDGE_FORMAT_TEXT, JUDGE_FORMAT_TSV, JUDGE_FORMAT_TSV_QUOTED,
                                            JUDGE_FORMAT_CSV, JUDGE_FORMAT_JSONL};
    judge_dataset_opts o = {0};
    o.format = formats[(sel & 7) % 5];
    int table = o.format != JUDGE_FORMAT_TEXT;
    o.no_header = (sel >> 3) & 1;
    if (table) {
        o.text_key = o.no_header ? "1" : "text";
        if ((sel >> 4) & 1) o.label_key = o.no_header ? "2" : "label";
        if ((sel >> 5) & 1) o.id_key = o.no_header ? "3" : "id";
    }
    const char *keep[1] = {o.no_header ? "2" : "keep"};
    if (table && (sel >> 6) & 1) o.keep_keys = keep, o.n_keep = 1;
    char err[512];
    judge_dataset *ds = judge_dataset_parse((const char *)data + 1, size - 1, "fuzz", &o, err, sizeof err);
    if (!ds) {
        if (!memchr(err, 0, sizeof err) || !err[0]) abort(); /* a failure always says why */
        return 0;
    }
    for (int i = 0; i < ds->n; i++) {
        const judge_item *it = &ds->items[i];
        if (it->text[it->text_len] != 0 || memchr(it->text, 0, it->text_len)) abort();
        if (!it->id[0] || (o.label_key && !it->label)) abort();
        (void)judge_label_snap(it->text, it->text_len, (judge_snap)(i & 1));
        if (o.n_keep) check_record(ds, it);
    }
    if (o.label_key && ds->n > 0) {
        int *cls = malloc(sizeof(int) * (size_t)ds->n);
        int *idx = malloc(sizeof(int) * (size_t)ds->n);
        if (cls && idx && judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == 0) {
            int n = judge_select(ds->n, cls, (int)(sel >> 6) * 3, 1, JUDGE_SELECT_SEED, idx);
            for (int i = 1; i < n; i++)
                if (idx[i] <= idx[i - 1]) abort();
        }
        free(cls);
        free(idx);
    }
    judge_dataset_destroy(ds);
    (void)judge_label_snap((const char *)data, size, JUDGE_SNAP_PHOENIX);
    /* The same bytes as a line of a results file (read back on resume). */
    judge_result res;
    if (judge_result_parse((const char *)data, size, &res, err, sizeof err) == 0) {
        if (!res.id[0]) abort();
        free((char *)res.id);
        free((char *)res.reason);
    }
    return 0;
}
