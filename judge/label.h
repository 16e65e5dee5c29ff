/* judge labels: the three answers a judge run can give, and how the model's
 * generated text is snapped to one of them.
 *
 * Class numbers follow the model card's report: class 0 = non-toxic,
 * class 1 = toxic (the positive class, scored by P(toxic)). */
#ifndef PHI3VK_JUDGE_LABEL_H
#define PHI3VK_JUDGE_LABEL_H

#include <stddef.h>

typedef enum judge_label {
    JUDGE_NON_TOXIC = 0,   /* class 0 */
    JUDGE_TOXIC = 1,       /* class 1 */
    JUDGE_UNPARSABLE = 2,  /* the answer names neither class (or, Phoenix rule, both) */
    JUDGE_ERROR = 3,       /* not classified (--too-long skip): the record says why */
} judge_label;

typedef enum judge_snap {
    /* The judge's own library (grounded-ai, 2024-06): text.strip().lower();
     * contains "non-toxic" -> non-toxic; else contains "toxic" -> toxic;
     * else unparsable. "non-toxic, not toxic" -> non-toxic. */
    JUDGE_SNAP_LIBRARY = 0,
    /* Arize Phoenix's rail snapping: lowercase; for each rail, longest first
     * ("non-toxic", then "toxic"): if it occurs, note it and delete every
     * occurrence; exactly one rail noted -> that rail, else unparsable.
     * Differs from the library where both occur outside each other:
     * "non-toxic or toxic" -> unparsable (library: non-toxic). */
    JUDGE_SNAP_PHOENIX = 1,
} judge_snap;

/* Snaps len bytes of generated text to a label with the given rule.
 * Lowercasing is ASCII-only; this equals Python's str.lower() for these
 * rails: the only non-ASCII characters whose lowercase contains ASCII letters
 * are U+212A (-> "k", in neither rail) and U+0130 (-> "i" + U+0307, whose
 * combining dot breaks a match). Bytes are never decoded, so invalid UTF-8 is
 * harmless. text may be NULL when len is 0. */
judge_label judge_label_snap(const char *text, size_t len, judge_snap rule);

/* "non-toxic", "toxic", "unparsable", "error"; "?" for values out of range. */
const char *judge_label_name(judge_label label);

/* Parses an exact label name as written by judge_label_name. Returns 0 and
 * sets *out, or -1 for any other string. */
int judge_label_parse(const char *name, judge_label *out);

#endif
