/* judge datasets: the items a classify or eval run reads (id, text, and for
 * eval a label), from plain text, TSV, CSV or JSONL, a file or stdin.
 *
 * Formats (JUDGE_FORMAT_AUTO picks by extension: .txt and stdin text, .tsv,
 * .csv, .jsonl or .ndjson; any other name is an error that names --format,
 * so a .json array or a .txt.gz is never read as lines of text):
 * - text: one item per line; lines that are empty or only spaces/tabs are
 *   skipped; a trailing \r is dropped (CRLF files). id = line number.
 * - tsv: a header row naming the columns, then one row per line, fields
 *   separated by TAB. Values use backslash escapes \\ \t \n \r (the format of
 *   the toxicity TSVs in ../shared/data); any other backslash is kept as it is.
 *   Quotes are ordinary characters: those files have texts that start with
 *   '"', which a quoting reader would swallow.
 * - tsv-quoted: like csv but TAB-separated (pandas to_csv(sep="\t")).
 * - csv: a header row, then records with RFC 4180 quoting: a field in double
 *   quotes may hold commas, newlines and "" for a quote; CRLF or LF endings.
 *   A quote inside an unquoted field is kept as a character.
 * - jsonl: one JSON object per line; blank lines skipped.
 * In tsv/csv, blank lines are skipped and every row must have as many fields
 * as the header. The id defaults to the row number (1 = first row after the
 * header; blank lines not counted) for tsv/csv, and to the line number for
 * text and jsonl. A UTF-8 byte order mark at the start is skipped.
 *
 * Bad input is an error naming file:line: a NUL byte, an unterminated quote,
 * a "\u0000" escape in a JSONL string (it would cut the text or id),
 * a row with the wrong number of fields, a missing column or field (the
 * message lists the ones present), a non-string text, an empty, repeated
 * or invalid UTF-8 id. Invalid UTF-8 in a text is not an error: the bytes are kept (the
 * tokenizer encodes them with its byte fallback) and counted in
 * n_invalid_utf8 so the caller can warn. */
#ifndef PHI3VK_JUDGE_DATASET_H
#define PHI3VK_JUDGE_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum judge_format {
    JUDGE_FORMAT_AUTO = 0,
    JUDGE_FORMAT_TEXT,
    JUDGE_FORMAT_TSV,
    JUDGE_FORMAT_TSV_QUOTED,
    JUDGE_FORMAT_CSV,
    JUDGE_FORMAT_JSONL,
} judge_format;

#define JUDGE_MAX_KEEP 64 /* columns classify --keep-cols copies */

typedef struct judge_dataset_opts {
    judge_format format;     /* JUDGE_FORMAT_AUTO: by extension */
    const char *text_key;    /* column (tsv/csv) or field (jsonl) holding the
                                text; NULL = "text". Must be NULL for text. */
    const char *id_key;      /* column/field holding the id; NULL = row or
                                line number. Must be NULL for text. */
    const char *label_key;   /* column/field holding the label; NULL = labels
                                not read. Must be NULL for text. */
    int no_header;           /* tsv/csv: the first row is data; columns are
                                named "1", "2", ... */
    int first_line;          /* text/jsonl: the line number of the buffer's
                                first line (ids and messages); 0 = 1. For input
                                parsed a line at a time (judge/stream.h) */
    const char *const *keep_keys; /* (n_keep) columns/fields copied into each
                                item's keep (classify --keep-cols); each must
                                exist (as the text's column must). Not for text */
    int n_keep;
} judge_dataset_opts;

typedef struct judge_item {
    char *id;         /* NUL-terminated, non-empty, unique in the dataset */
    char *text;       /* text_len bytes plus a NUL; escapes decoded; never
                         contains a NUL byte; may be invalid UTF-8 */
    size_t text_len;  /* bytes */
    char *label;      /* the label as written (NUL-terminated), NULL when
                         label_key was NULL */
    int line;         /* 1-based line of the file where the item starts */
    char **keep;      /* (dataset n_keep) the kept columns as JSON text: a
                         string for TSV/CSV, the field's value for JSONL (any
                         JSON type); invalid UTF-8 replaced by U+FFFD. NULL
                         when no column is kept */
} judge_item;

typedef struct judge_dataset {
    judge_item *items;            /* (n) in file order */
    int n;                        /* items */
    char source[256];             /* the path, or "<stdin>" */
    judge_format format;          /* the format read (never AUTO) */
    int n_blank;                  /* blank lines skipped */
    int n_invalid_utf8;           /* items whose text is not valid UTF-8 */
    int first_invalid_utf8_line;  /* line of the first of them, 0 if none */
    int n_keep;                   /* kept columns (opts.n_keep) */
    char **keep_names;            /* (n_keep) their names, owned */
} judge_dataset;

/* "text", "tsv", "tsv-quoted", "csv", "jsonl" ("auto" for AUTO). */
const char *judge_format_name(judge_format f);
/* Parses a format name as above. Returns 0, or -1 for an unknown name. */
int judge_format_parse(const char *name, judge_format *out);
/* The format AUTO picks for path (NULL or "-" = stdin: text); AUTO when the
 * extension says nothing (then loading is an error naming --format). */
judge_format judge_format_guess(const char *path);

/* Reads a dataset from path ("-" = standard input, read to its end).
 * Returns NULL with a message in err (see the file comment). Free with
 * judge_dataset_destroy. */
judge_dataset *judge_dataset_load(const char *path, const judge_dataset_opts *opts, char *err, size_t errlen);

/* The same from len bytes in memory; name is used for messages and source,
 * and for AUTO (by its extension). buf need not be NUL-terminated. */
judge_dataset *judge_dataset_parse(const char *buf, size_t len, const char *name, const judge_dataset_opts *opts,
                                   char *err, size_t errlen);

/* Frees the dataset (NULL is fine). */
void judge_dataset_destroy(judge_dataset *ds);

/* Offset of the first "\u0000" escape (a NUL character inside a JSON
 * string) in the JSON text s[0, n), or -1 when there is none. cJSON cuts a
 * string there, so a text or id holding one is refused, not shortened. */
long judge_json_nul_escape(const char *s, size_t n);


/* Maps every item's label to a class: 1 when it equals positive (compared
 * without surrounding whitespace, ASCII case-insensitively), else 0. cls has
 * room for ds->n ints. A file of one label value is accepted whichever it
 * is (all class 1 when it is positive, else all class 0: a toxic-only or a
 * non-toxic-only set). Fails, listing the labels found with their counts,
 * when labels were not read, when more than one other value occurs (a typo
 * must not pass as the negative class), or when two values occur and
 * neither is positive. Implemented in judge/classes.c. */
int judge_dataset_classes(const judge_dataset *ds, const char *positive, int *cls, char *err, size_t errlen);

#define JUDGE_SELECT_SEED 42u

/* Chooses the items of a run; writes their indices (ascending, i.e. file
 * order) to idx (room for n) and returns how many.
 * balance = 0: the first limit items (limit <= 0: all n).
 * balance = 1: k items of each class, drawn uniformly without replacement by
 *   a PRNG seeded with seed (same seed, same items), where k = limit / 2 when
 *   limit > 0, else the size of the smaller class; k is clamped to the size
 *   of the smaller class (the caller can compare the result with 2k).
 *   cls (n values, 0 or 1) is required. */
int judge_select(int n, const int *cls, int limit, int balance, uint64_t seed, int *idx);

#endif
