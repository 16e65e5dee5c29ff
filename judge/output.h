/* judge output formats for data work: the records of a run as CSV, TSV, or
 * the JSON list a Hugging Face text-classification pipeline returns, beside
 * the JSONL lines (judge/results.h) and the readable table (judge/run.h).
 *
 * CSV and TSV have a header row and one row per record, columns:
 *   id, label, p_toxic, reason, error, truncated, prompt_tokens, ms,
 *   then the kept input columns (--keep-cols) under their own names.
 * p_toxic has 6 significant digits (empty when not computed), truncated is
 * 0 or 1, reason and error are empty when absent. CSV quotes a field as RFC
 * 4180 does (when it holds a comma, a quote, CR or LF; "" for a quote); TSV
 * escapes \\ \t \n \r with a backslash (what the dataset reader decodes).
 * A kept JSON string is written as its text, any other JSON value as JSON.
 * Invalid UTF-8 in a reason is replaced by U+FFFD.
 *
 * hf: one JSON array, an object per record, in input order:
 *   [{"label": "toxic", "score": 0.934127}, ...]
 * score is the probability of the returned label: P(toxic) for toxic,
 * 1 - P(toxic) for non-toxic, null for unparsable and error (no fields but
 * these two, as the pipeline's). */
#ifndef PHI3VK_JUDGE_OUTPUT_H
#define PHI3VK_JUDGE_OUTPUT_H

#include <stdio.h>

#include "judge/results.h"

typedef enum judge_output_format {
    JUDGE_OUTPUT_TABLE = 0,  /* the readable table (judge_table_row) */
    JUDGE_OUTPUT_JSONL,      /* judge_result_line */
    JUDGE_OUTPUT_CSV,
    JUDGE_OUTPUT_TSV,
    JUDGE_OUTPUT_HF,
} judge_output_format;

/* "table", "jsonl", "csv", "tsv", "hf". */
const char *judge_output_format_name(judge_output_format f);
/* Parses those names; 0, or -1 for any other. */
int judge_output_format_parse(const char *name, judge_output_format *out);

/* 1 when name is a field of the records (id, label, p_toxic, reason,
 * prompt_tokens, ms, text_sha256, error, truncated, schema_version, and
 * provenance, the key of provenance lines): a kept column cannot take it. */
int judge_output_reserved(const char *name);

/* A records stream: plain data, zero n before judge_output_begin. */
typedef struct judge_output {
    FILE *f;                  /* where the records go */
    judge_output_format fmt;  /* JUDGE_OUTPUT_CSV, _TSV or _HF (table and jsonl write nothing here) */
    int n;                    /* records written so far */
} judge_output;

/* Writes what goes before the first record (CSV/TSV: the header with the
 * n_keep kept column names; hf: "["). Returns 0, or -1 when the stream
 * failed. */
int judge_output_begin(judge_output *w, const char *const *keep_names, int n_keep);

/* Writes one record. Returns 0, or -1 when out of memory or the stream
 * failed. */
int judge_output_record(judge_output *w, const judge_result *r);

/* Writes what closes the stream (hf: "]\n") and flushes it. Returns 0, or
 * -1 when the stream failed. */
int judge_output_end(judge_output *w);

#endif
