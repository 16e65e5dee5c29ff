/* Label snapping: the judge library's rule and Phoenix's, case by case.
 * Expected values follow the rules as written in ../shared/data/README.md
 * (library: strip().lower(), "non-toxic" checked before "toxic"; Phoenix:
 * rails longest first, each deleted once found, exactly one rail or
 * unparsable). */
#include <string.h>

#include "lib/check.h"
#include "judge/label.h"

int main(void) {
    static const struct {
        const char *text;
        judge_label lib, phoenix;
    } cases[] = {
        {"toxic", JUDGE_TOXIC, JUDGE_TOXIC},
        {"non-toxic", JUDGE_NON_TOXIC, JUDGE_NON_TOXIC},
        {"Toxic", JUDGE_TOXIC, JUDGE_TOXIC},
        {"Non-toxic", JUDGE_NON_TOXIC, JUDGE_NON_TOXIC},
        {"NON-TOXIC", JUDGE_NON_TOXIC, JUDGE_NON_TOXIC},
        {"  toxic\n", JUDGE_TOXIC, JUDGE_TOXIC},
        {"toxic\nThe text insults the reader.", JUDGE_TOXIC, JUDGE_TOXIC},
        {"Non-Toxic. The text is a polite question.", JUDGE_NON_TOXIC, JUDGE_NON_TOXIC},
        {"nontoxic", JUDGE_TOXIC, JUDGE_TOXIC},          /* no hyphen: only "toxic" occurs */
        {"non toxic", JUDGE_TOXIC, JUDGE_TOXIC},
        {"toxicity", JUDGE_TOXIC, JUDGE_TOXIC},
        {"non-toxic, not toxic", JUDGE_NON_TOXIC, JUDGE_UNPARSABLE}, /* both rails: Phoenix refuses */
        {"toxic or non-toxic", JUDGE_NON_TOXIC, JUDGE_UNPARSABLE},
        {"non-toxic non-toxic", JUDGE_NON_TOXIC, JUDGE_NON_TOXIC},
        {"tonon-toxicxic", JUDGE_NON_TOXIC, JUDGE_UNPARSABLE},        /* deletion joins "to"+"xic" */
        {"tox ic", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},
        {"safe", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},
        {"", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},
        {"to", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},
        {"ttoxic", JUDGE_TOXIC, JUDGE_TOXIC},                         /* matcher restarts on 't' */
        {"\xff\xfe toxic \xc3", JUDGE_TOXIC, JUDGE_TOXIC},            /* invalid UTF-8 around it */
        {"T\xc3\x96XIC", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},         /* O-umlaut is not 'o' */
        {"\xc4\xb0", JUDGE_UNPARSABLE, JUDGE_UNPARSABLE},             /* U+0130 alone */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].text);
        judge_label a = judge_label_snap(cases[i].text, n, JUDGE_SNAP_LIBRARY);
        judge_label b = judge_label_snap(cases[i].text, n, JUDGE_SNAP_PHOENIX);
        CHECK(a == cases[i].lib, "library('%s') = %s", cases[i].text, judge_label_name(a));
        CHECK(b == cases[i].phoenix, "phoenix('%s') = %s", cases[i].text, judge_label_name(b));
    }
    /* Length-bounded: bytes after len are not looked at. */
    CHECK(judge_label_snap("toxic", 4, JUDGE_SNAP_LIBRARY) == JUDGE_UNPARSABLE, "len respected");
    CHECK(judge_label_snap("non-toxic", 8, JUDGE_SNAP_LIBRARY) == JUDGE_UNPARSABLE, "len respected (non)");
    CHECK(judge_label_snap(NULL, 0, JUDGE_SNAP_PHOENIX) == JUDGE_UNPARSABLE, "NULL");
    /* An embedded NUL does not end the text. */
    CHECK(judge_label_snap("x\0toxic", 7, JUDGE_SNAP_LIBRARY) == JUDGE_TOXIC, "NUL inside");

    judge_label l;
    CHECK(judge_label_parse("toxic", &l) == 0 && l == JUDGE_TOXIC, "parse toxic");
    CHECK(judge_label_parse("non-toxic", &l) == 0 && l == JUDGE_NON_TOXIC, "parse non-toxic");
    CHECK(judge_label_parse("unparsable", &l) == 0 && l == JUDGE_UNPARSABLE, "parse unparsable");
    CHECK(judge_label_parse("Toxic", &l) == -1, "parse is exact");
    CHECK(judge_label_parse(NULL, &l) == -1, "parse NULL");
    CHECK(!strcmp(judge_label_name((judge_label)7), "?"), "name out of range");
    return test_finish();
}
