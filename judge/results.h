/* judge results: one JSON line per classified item, written so that a run
 * can be killed at any moment (Ctrl-C, kill -9) and resumed without losing or
 * repeating an item, plus the progress bar and summary of a dataset run.
 *
 * Line format (one JSON object, no raw newline inside, then '\n'):
 *   {"id":"17","label":"toxic","p_toxic":0.934127,"reason":null,"prompt_tokens":231,"ms":41.2,
 *    "text_sha256":"9f2c...","schema_version":1}
 * id is always a string; p_toxic (6 significant digits) is null when not
 * computed; ms has one decimal; reason is null
 * unless reasons were requested (invalid UTF-8 in it, e.g. a character cut
 * by the token limit, is replaced by U+FFFD so every line is valid JSON);
 * text_sha256 identifies the text the result is for. An item that was not
 * classified has "label":"error" and "error":"why"; one whose text was cut
 * to fit the context has "truncated":true. schema_version
 * (JUDGE_SCHEMA_VERSION) follows; then the input columns kept with
 * classify --keep-cols, under their own names. Provenance lines (see
 * judge/provenance.h) stand among the result lines. The README's "Output
 * schemas" section documents every field.
 *
 * One result per id, except that a later line replaces an earlier one of
 * the same id when the earlier is an error or was for another text (the
 * item was run again).
 *
 * Durability: each line goes to the file in one write() on a file opened
 * with O_APPEND, so a killed process leaves every reported line whole (the
 * kernel keeps written data when a process dies); fdatasync runs at most once
 * a second and on close, which bounds what a power loss can take. A torn last
 * line (a crash inside write(), a full disk, a power loss) is cut off when
 * the file is opened again, and that item is simply run again. */
#ifndef PHI3VK_JUDGE_RESULTS_H
#define PHI3VK_JUDGE_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "judge/label.h"

/* The version of the record layouts (result lines, provenance lines, eval
 * --json): raised when a field changes meaning or goes away (adding one
 * does not raise it). */
#define JUDGE_SCHEMA_VERSION 1

typedef struct judge_result {
    const char *id;      /* the item's id (valid UTF-8, non-empty) */
    judge_label label;   /* the snapped answer; JUDGE_ERROR: not classified */
    double p_toxic;      /* P(toxic) in [0, 1]; NaN = not computed (null) */
    const char *reason;  /* the generated explanation; NULL = not requested */
    int prompt_tokens;   /* tokens of the chat-wrapped prompt */
    double ms;           /* wall time of this item, milliseconds */
    const char *error;   /* JUDGE_ERROR: why ("the prompt has 5000 tokens, ..."); else NULL */
    int truncated;       /* 1: the text was cut to fit the context (--too-long truncate) */
    char text_sha256[65];/* sha256 (hex) of the item's text; "" when unknown (older files) */
    int n_keep;          /* input columns copied into the record (--keep-cols); 0 when none */
    const char *const *keep_names;  /* (n_keep) their names (not owned) */
    const char *const *keep_values; /* (n_keep) their values as JSON text (judge_item.keep; not owned) */
} judge_result;

/* s with every invalid UTF-8 byte replaced by U+FFFD; malloc'ed, NULL when
 * out of memory. */
char *judge_utf8_sanitize(const char *s);

/* A probability as records write it: 6 significant digits (%.6g), "null"
 * when not finite. */
void judge_format_p(double p, char *out, size_t len);

/* The JSONL line of res, '\n'-terminated, malloc'ed; its length in *len
 * (may be NULL). NULL when out of memory. Also what --jsonl prints. */
char *judge_result_line(const judge_result *res, size_t *len);

/* Parses one line written by judge_result_line (without its '\n'). On
 * success fills *out with malloc'ed id and reason (free both) and returns 0;
 * returns -1 with a message saying what is wrong. */
int judge_result_parse(const char *line, size_t len, judge_result *out, char *err, size_t errlen);

typedef struct judge_results judge_results;

/* Opens (creating if needed) the results file at path for appending, after
 * reading the results already in it. A torn last line (no '\n', not a whole
 * line, and the start of a line phi3vk writes: {"id": or {"provenance":) is
 * cut off; a whole last line lacking only its '\n' gets one. Fails, changing
 * nothing, with a message naming path:line for a line that is not a result
 * or provenance line (a last line without '\n' included: a file that is not
 * a results file is never cut), or that repeats an id, and when another
 * process holds the file (a POSIX write lock is held while open, so two runs
 * cannot interleave). */
judge_results *judge_results_open(const char *path, char *err, size_t errlen);

/* The file's last provenance line (see judge/provenance.h), or NULL when it
 * has none. Valid until the next judge_results_set_provenance or close. */
struct judge_provenance;
const struct judge_provenance *judge_results_provenance(const judge_results *r);

/* Makes p the provenance of the results appended from now on: writes a
 * provenance line unless the file's last one equals p. 0, or -1 with err. */
int judge_results_set_provenance(judge_results *r, const struct judge_provenance *p, char *err, size_t errlen);

/* Results in the file (those read at open plus those appended). */
int judge_results_count(const judge_results *r);

/* Bytes of a torn last line removed at open (0 if none). */
size_t judge_results_dropped_bytes(const judge_results *r);

/* The stored result with this id, or NULL. The pointers inside stay valid
 * until judge_results_close. */
const judge_result *judge_results_get(const judge_results *r, const char *id);

/* Writes res as one line. Fails (nothing written; the file is restored to
 * its previous size if a write failed half-way) when the id is already
 * present with a result for the same text (an error result, or one for
 * another text_sha256, is replaced), is empty or not valid UTF-8, or on an
 * I/O error. */
int judge_results_append(judge_results *r, const judge_result *res, char *err, size_t errlen);

/* Flushes to disk (fdatasync), unlocks, closes and frees. Returns 0, or -1
 * with a message when the final sync or close failed. NULL is fine. */
int judge_results_close(judge_results *r, char *err, size_t errlen);

/* ---- progress ------------------------------------------------------------ */

typedef struct judge_progress {
    int total;          /* items this run processes (resumed ones excluded) */
    int resumed;        /* items skipped because the output had them */
    int done;           /* items finished in this run */
    long long tokens;   /* prompt tokens of the finished items */
    int unparsable;     /* finished items with an unparsable answer */
    int errors;         /* finished items not classified (label error: --too-long skip) */
    int truncated;      /* finished items whose text was cut to fit (--too-long truncate) */
    int changed;        /* items run again because their text differs from the output's record */
    double start;       /* util_now_s() when the run started */
    double last_draw;   /* util_now_s() when the bar was last drawn */
} judge_progress;


/* Starts counting a run of total items, resumed of them already done. */
void judge_progress_start(judge_progress *p, int total, int resumed);

/* Counts one finished item. */
void judge_progress_add(judge_progress *p, const judge_result *res);

/* The bar as one line without a newline, e.g.
 * " 120/350  34% [######--------------]  12.3 items/s  ETA 0:18", into buf
 * (truncated to len). now: util_now_s(). */
void judge_progress_format(const judge_progress *p, double now, char *buf, size_t len);

/* The final summary without a newline, e.g. "350 items (12 more already
 * done), 71234 prompt tokens, 28.4 s, 12.3 items/s, 3 unparsable", then
 * ", 2 skipped (too long)", ", 1 truncated", ", 4 run again (text changed)"
 * when there are any. */
void judge_summary_format(const judge_progress *p, double now, char *buf, size_t len);

/* Redraws the bar in place on a terminal ('\r', the line, erase to the end
 * of the line), at most 10 times a second unless force. The caller decides
 * that tty is a terminal (isatty). */
void judge_progress_draw(judge_progress *p, FILE *tty, int force);

/* Erases the bar's line (before printing anything else on tty). */
void judge_progress_clear(FILE *tty);

#endif
