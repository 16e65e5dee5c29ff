/* judge datasets: every format's quoting and escaping rules, the errors for
 * bad input (each must name the file, line and column or field), the item
 * selection for --limit/--balance, and the two real labelled sets in
 * ../shared/data/toxicity (row and label counts from its README). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/dataset.h"
#include "lib/check.h"
#include "util/utf8.h"

static char err[1024];

static judge_dataset *parse(const char *s, const char *name, judge_format fmt, const char *text_key,
                            const char *id_key, const char *label_key) {
    judge_dataset_opts o = {fmt, text_key, id_key, label_key, 0};
    err[0] = 0;
    return judge_dataset_parse(s, strlen(s), name, &o, err, sizeof err);
}

static int item_is(const judge_dataset *ds, int i, const char *id, const char *text, const char *label, int line) {
    if (!ds || i >= ds->n) return 0;
    const judge_item *it = &ds->items[i];
    if (strcmp(it->id, id) || it->text_len != strlen(text) || memcmp(it->text, text, it->text_len)) return 0;
    if (it->text[it->text_len] != 0 || it->line != line) return 0;
    if (label ? (!it->label || strcmp(it->label, label)) : it->label != NULL) return 0;
    return 1;
}

static void check_csv(void) {
    const char *s = "id,text,label\r\n"
                    "a1,\"Hello, world\",toxic\r\n"
                    "a2,\"two\nlines, and \"\"quotes\"\"\",non-toxic\r\n"
                    "\r\n"
                    "a3,plain 5\" tall,toxic\n"
                    "a4,,non-toxic\n"
                    "a5,\"\",toxic";
    judge_dataset *ds = parse(s, "x.csv", JUDGE_FORMAT_AUTO, NULL, "id", "label");
    CHECK(ds && ds->n == 5 && ds->format == JUDGE_FORMAT_CSV, "csv: %s", ds ? "wrong count" : err);
    CHECK(item_is(ds, 0, "a1", "Hello, world", "toxic", 2), "csv comma in quotes");
    CHECK(item_is(ds, 1, "a2", "two\nlines, and \"quotes\"", "non-toxic", 3), "csv newline and quotes");
    CHECK(item_is(ds, 2, "a3", "plain 5\" tall", "toxic", 6), "csv quote inside unquoted field");
    CHECK(item_is(ds, 3, "a4", "", "non-toxic", 7), "csv empty field");
    CHECK(item_is(ds, 4, "a5", "", "toxic", 8), "csv empty quoted field at EOF");
    CHECK(ds && ds->n_blank == 1, "blank lines: %d", ds ? ds->n_blank : -1);
    judge_dataset_destroy(ds);

    /* Default id: the row number, 1 = first row after the header. */
    ds = parse("text\nx\n\ny\n", "x.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(item_is(ds, 0, "1", "x", NULL, 2) && item_is(ds, 1, "2", "y", NULL, 4), "csv row ids: %s", err);
    judge_dataset_destroy(ds);

    ds = parse("text,label\n\"never ends,toxic\nmore\n", "q.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "q.csv:2:") && strstr(err, "never ends"), "unterminated quote: %s", err);
    ds = parse("text,label\n\"a\"b,toxic\n", "q.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "q.csv:2:") && strstr(err, "after the closing quote"), "junk after quote: %s", err);
    ds = parse("text,label\nhello, world,toxic\n", "w.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "w.csv:2:") && strstr(err, "3 fields") && strstr(err, "header has 2"),
          "field count: %s", err);
    ds = parse("tweet,class\nx,1\n", "m.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "m.csv") && strstr(err, "no column 'text'") && strstr(err, "'tweet', 'class'"),
          "missing column: %s", err);
    ds = parse("text,label\nx,1\n", "m.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "target");
    CHECK(!ds && strstr(err, "no column 'target'") && strstr(err, "'text', 'label'"), "missing label col: %s", err);
    ds = parse("text,text\nx,y\n", "d.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "twice"), "duplicate column: %s", err);
    ds = parse("id,text\n7,x\n7,y\n", "d.csv", JUDGE_FORMAT_AUTO, NULL, "id", NULL);
    CHECK(!ds && strstr(err, "d.csv:3:") && strstr(err, "'7'") && strstr(err, "line 2"), "duplicate id: %s", err);
    ds = parse("id,text\n,x\n", "d.csv", JUDGE_FORMAT_AUTO, NULL, "id", NULL);
    CHECK(!ds && strstr(err, "d.csv:2:") && strstr(err, "empty id"), "empty id: %s", err);
    ds = parse("", "e.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "e.csv") && strstr(err, "no header"), "empty csv: %s", err);
    ds = parse("text\n", "h.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(ds && ds->n == 0, "header only: %s", err);
    judge_dataset_destroy(ds);

    /* No header: columns are named 1, 2, ...; the first line is data. */
    judge_dataset_opts o = {JUDGE_FORMAT_CSV, "2", NULL, "1", 1};
    ds = judge_dataset_parse("toxic,a\nnon-toxic,b\n", 20, "n.csv", &o, err, sizeof err);
    CHECK(item_is(ds, 0, "1", "a", "toxic", 1) && item_is(ds, 1, "2", "b", "non-toxic", 2), "no header: %s", err);
    judge_dataset_destroy(ds);

    /* tsv-quoted: RFC 4180 with tabs (pandas' to_csv(sep="\t")). */
    ds = parse("text\tlabel\n\"a\tb \"\"q\"\"\ncd\"\ttoxic\n", "p.tsv", JUDGE_FORMAT_TSV_QUOTED, NULL, NULL, "label");
    CHECK(item_is(ds, 0, "1", "a\tb \"q\"\ncd", "toxic", 2), "tsv-quoted: %s", err);
    judge_dataset_destroy(ds);
}

static void check_tsv(void) {
    /* Escapes \\ \t \n \r decoded; other backslashes and quotes literal. */
    const char *s = "label\ttext\n"
                    "toxic\ta\\tb\\nc\\\\d\\re\n"
                    "non-toxic\t\"starts with a quote\" and \\x stays\\\r\n"
                    "\n"
                    "toxic\tends in backslash \\\n";
    judge_dataset *ds = parse(s, "t.tsv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(ds && ds->n == 3 && ds->format == JUDGE_FORMAT_TSV, "tsv: %s", ds ? "wrong count" : err);
    CHECK(item_is(ds, 0, "1", "a\tb\nc\\d\re", "toxic", 2), "tsv escapes");
    CHECK(item_is(ds, 1, "2", "\"starts with a quote\" and \\x stays\\", "non-toxic", 3), "tsv literal quote");
    CHECK(item_is(ds, 2, "3", "ends in backslash \\", "toxic", 5), "tsv trailing backslash");
    judge_dataset_destroy(ds);

    ds = parse("label\ttext\ntoxic\ta\tb\n", "t.tsv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "t.tsv:2:") && strstr(err, "3 fields") && strstr(err, "tab"), "tsv fields: %s", err);
    ds = parse("label\ttxt\ntoxic\ta\n", "t.tsv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "no column 'text'") && strstr(err, "'label', 'txt'"), "tsv missing column: %s", err);
    /* A header name with an escape is decoded too. */
    ds = parse("my\\ttext\nx\n", "t.tsv", JUDGE_FORMAT_AUTO, "my\ttext", NULL, NULL);
    CHECK(item_is(ds, 0, "1", "x", NULL, 2), "escaped header: %s", err);
    judge_dataset_destroy(ds);
}

static void check_jsonl(void) {
    const char *s = "{\"text\": \"hi \\\"there\\\"\\n\", \"id\": 17, \"label\": \"toxic\"}\n"
                    "\n"
                    "   \n"
                    "{\"id\": \"b\", \"label\": 0, \"text\": \"caf\\u00e9\"}  \r\n"
                    "{\"id\": 2.5, \"label\": true, \"text\": \"\", \"extra\": [1, {\"x\": null}]}";
    judge_dataset *ds = parse(s, "j.jsonl", JUDGE_FORMAT_AUTO, NULL, "id", "label");
    CHECK(ds && ds->n == 3 && ds->format == JUDGE_FORMAT_JSONL, "jsonl: %s", ds ? "wrong count" : err);
    CHECK(item_is(ds, 0, "17", "hi \"there\"\n", "toxic", 1), "jsonl escapes, numeric id");
    CHECK(item_is(ds, 1, "b", "caf\xc3\xa9", "0", 4), "jsonl unicode, numeric label");
    CHECK(item_is(ds, 2, "2.5", "", "true", 5), "jsonl boolean label");
    CHECK(ds && ds->n_blank == 2, "jsonl blanks %d", ds ? ds->n_blank : -1);
    judge_dataset_destroy(ds);

    ds = parse("{\"text\":\"a\"}\n{\"content\":\"b\",\"id\":1}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "j.jsonl:2:") && strstr(err, "no field 'text'") && strstr(err, "'content', 'id'"),
          "missing field: %s", err);
    ds = parse("{\"text\":\"a\"}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "j.jsonl:1:") && strstr(err, "no field 'label'"), "missing label field: %s", err);
    ds = parse("{\"text\":5}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "field 'text' is a number"), "text type: %s", err);
    ds = parse("{\"text\":\"a\"}\n{\"text\": \"b\",}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "j.jsonl:2:") && strstr(err, "invalid JSON"), "bad json: %s", err);
    ds = parse("[\"text\"]\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "j.jsonl:1:") && strstr(err, "an array"), "not an object: %s", err);
    ds = parse("{\"text\":\"a\"} {\"text\":\"b\"}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "after the JSON object"), "two objects on a line: %s", err);
    ds = parse("{\"text\":\"a\",\"id\":null}\n", "j.jsonl", JUDGE_FORMAT_AUTO, NULL, "id", NULL);
    CHECK(!ds && strstr(err, "field 'id' is null"), "null id: %s", err);
}

static void check_text_and_bytes(void) {
    judge_dataset *ds = parse("first\r\n\n  \nsecond line\nlast", "items.txt", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(ds && ds->n == 3 && ds->n_blank == 2, "text: %s", err);
    CHECK(item_is(ds, 0, "1", "first", NULL, 1) && item_is(ds, 1, "4", "second line", NULL, 4) &&
              item_is(ds, 2, "5", "last", NULL, 5),
          "text ids are line numbers");
    judge_dataset_destroy(ds);
    ds = parse("a\n", "items.txt", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(!ds && strstr(err, "plain text") && strstr(err, "label"), "text with label: %s", err);

    /* Invalid UTF-8 is kept and counted; the first bad line is reported. */
    ds = parse("ok\nbad \xff byte\nalso \xc3\x28 bad\nfine \xc3\xa9\n", "u.txt", JUDGE_FORMAT_TEXT, NULL, NULL, NULL);
    CHECK(ds && ds->n == 4 && ds->n_invalid_utf8 == 2 && ds->first_invalid_utf8_line == 2, "utf8 count: %s", err);
    CHECK(item_is(ds, 1, "2", "bad \xff byte", NULL, 2), "invalid bytes kept");
    judge_dataset_destroy(ds);

    /* A NUL byte is an error with its line. */
    judge_dataset_opts o = {JUDGE_FORMAT_CSV, NULL, NULL, NULL, 0};
    ds = judge_dataset_parse("text\nab\ncd\0e\n", 13, "z.csv", &o, err, sizeof err);
    CHECK(!ds && strstr(err, "z.csv:3:") && strstr(err, "NUL"), "NUL: %s", err);

    /* A byte order mark is skipped (the header stays "text"). */
    ds = parse("\xEF\xBB\xBFtext\nx\n", "b.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(item_is(ds, 0, "1", "x", NULL, 2), "BOM: %s", err);
    judge_dataset_destroy(ds);

    CHECK(util_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), "valid utf8");
    static const char *bad[] = {"\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
                                "\x80", "\xf5\x80\x80\x80", "\xe2\x28\xa1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!util_utf8_valid(bad[i], strlen(bad[i])), "invalid utf8 case %zu accepted", i);
    CHECK(util_utf8_valid("\xf4\x8f\xbf\xbf", 4) && util_utf8_valid("\xed\x9f\xbf", 3), "edges");

    judge_format f;
    CHECK(judge_format_guess("a/b.TSV") == JUDGE_FORMAT_TSV && judge_format_guess("x.ndjson") == JUDGE_FORMAT_JSONL &&
              judge_format_guess("-") == JUDGE_FORMAT_TEXT && judge_format_guess("x.csv.txt") == JUDGE_FORMAT_TEXT,
          "format guess");
    CHECK(judge_format_parse("tsv-quoted", &f) == 0 && f == JUDGE_FORMAT_TSV_QUOTED, "format parse");
    CHECK(judge_format_parse("xlsx", &f) == -1, "unknown format");
}

/* Issue 14: JSONL "\u0000" cut a text or id at the NUL; unknown extensions
 * were read as plain text. */
static void check_hostile(void) {
    const char *nul = "{\"id\": \"1\", \"text\": \"ok\"}\n{\"id\": \"2\", \"text\": \"a\\u0000b\"}\n";
    judge_dataset *ds = parse(nul, "n.jsonl", JUDGE_FORMAT_JSONL, NULL, NULL, NULL);
    CHECK(!ds && strstr(err, "n.jsonl:2: \\u0000 (a NUL character)"), "\\u0000: %s", err);
    judge_dataset_destroy(ds);
    /* an escaped backslash before u0000 is text, not a NUL */
    ds = parse("{\"text\": \"a\\\\u0000b\"}\n", "e.jsonl", JUDGE_FORMAT_JSONL, NULL, NULL, NULL);
    CHECK(ds && ds->n == 1 && ds->items[0].text_len == 8, "\\\\u0000 is text: %s", ds ? ds->items[0].text : err);
    judge_dataset_destroy(ds);
    CHECK(judge_json_nul_escape("\\\\\\u0000", 8) == 2 && judge_json_nul_escape("\\\\u0000", 7) == -1, "escape counting");
    const char *names[] = {"items.json", "x.txt.gz", "noext", "dir.d/file"};
    for (int i = 0; i < 4; i++) {
        ds = parse("[1, 2]\n", names[i], JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
        CHECK(!ds && strstr(err, names[i]) && strstr(err, "--format"), "%s: %s", names[i], err);
        judge_dataset_destroy(ds);
    }
    CHECK(judge_format_guess("a.TXT") == JUDGE_FORMAT_TEXT && judge_format_guess("a.json") == JUDGE_FORMAT_AUTO, "guess");
}

static void check_stdin_and_missing_file(void) {
    char path[] = "/tmp/phi3vk_ds_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    FILE *f = fdopen(fd, "wb");
    fputs("one\ntwo\n", f);
    fclose(f);
    CHECK(freopen(path, "rb", stdin) != NULL, "freopen");
    judge_dataset *ds = judge_dataset_load("-", NULL, err, sizeof err);
    CHECK(ds && ds->n == 2 && !strcmp(ds->source, "<stdin>") && item_is(ds, 1, "2", "two", NULL, 2), "stdin: %s",
          err);
    judge_dataset_destroy(ds);
    remove(path);
    ds = judge_dataset_load("/nonexistent/x.tsv", NULL, err, sizeof err);
    CHECK(!ds && strstr(err, "/nonexistent/x.tsv") && strstr(err, "cannot open"), "missing file: %s", err);
}

static void check_classes_and_select(void) {
    judge_dataset *ds = parse("label,text\nToxic ,a\nnon-toxic,b\ntoxic,c\nspam,d\n", "c.csv", JUDGE_FORMAT_AUTO,
                              NULL, NULL, "label");
    int cls[8];
    CHECK(ds && judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == -1 && strstr(err, "'spam' (1)") &&
              strstr(err, "'Toxic ' (2)"),
          "third label value: %s", err);
    judge_dataset_destroy(ds);
    ds = parse("label,text\n1,a\n0,b\n1,c\n", "c.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(ds && judge_dataset_classes(ds, "1", cls, err, sizeof err) == 0 && cls[0] == 1 && cls[1] == 0 && cls[2] == 1,
          "numeric labels: %s", err);
    CHECK(judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == -1 && strstr(err, "'toxic'"),
          "positive absent: %s", err);
    judge_dataset_destroy(ds);
    /* one class only, either one: a toxic-only and a non-toxic-only file */
    ds = parse("label,text\ntoxic,a\nTOXIC,b\n", "c.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(ds && judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == 0 && cls[0] == 1 && cls[1] == 1,
          "toxic-only: %s", err);
    judge_dataset_destroy(ds);
    ds = parse("label,text\nnon-toxic,a\nnon-toxic,b\n", "c.csv", JUDGE_FORMAT_AUTO, NULL, NULL, "label");
    CHECK(ds && judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == 0 && cls[0] == 0 && cls[1] == 0,
          "non-toxic-only: %s", err);
    judge_dataset_destroy(ds);
    ds = parse("text\na\n", "c.csv", JUDGE_FORMAT_AUTO, NULL, NULL, NULL);
    CHECK(ds && judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == -1 && strstr(err, "not read"),
          "no labels: %s", err);
    judge_dataset_destroy(ds);

    /* Selection: 10 items, classes 1 at indices 1, 4, 7. */
    int c10[10] = {0, 1, 0, 0, 1, 0, 0, 1, 0, 0}, idx[10], idx2[10];
    int n = judge_select(10, NULL, 4, 0, JUDGE_SELECT_SEED, idx);
    CHECK(n == 4 && idx[0] == 0 && idx[3] == 3, "limit");
    CHECK(judge_select(10, NULL, 0, 0, JUDGE_SELECT_SEED, idx) == 10 && idx[9] == 9, "no limit");
    n = judge_select(10, c10, 0, 1, JUDGE_SELECT_SEED, idx);
    int ones = 0, sorted = 1;
    for (int i = 0; i < n; i++) ones += c10[idx[i]], sorted &= i == 0 || idx[i] > idx[i - 1];
    CHECK(n == 6 && ones == 3 && sorted, "balance: n %d ones %d sorted %d", n, ones, sorted);
    CHECK(judge_select(10, c10, 6, 1, JUDGE_SELECT_SEED, idx2) == 6 && !memcmp(idx, idx2, sizeof(int) * 6),
          "same seed, same items");
    n = judge_select(10, c10, 4, 1, JUDGE_SELECT_SEED, idx);
    ones = 0;
    for (int i = 0; i < n; i++) ones += c10[idx[i]];
    CHECK(n == 4 && ones == 2, "balance with limit: %d %d", n, ones);
    CHECK(judge_select(10, c10, 100, 1, JUDGE_SELECT_SEED, idx) == 6, "balance clamps to the smaller class");
    /* Different seeds draw different negatives (7 choose 3 = 35 ways). */
    int differ = 0;
    for (uint64_t seed = 1; seed < 6 && !differ; seed++) {
        judge_select(10, c10, 0, 1, seed, idx2);
        differ = memcmp(idx, idx2, sizeof(int) * 6) != 0;
    }
    CHECK(differ, "seed changes the draw");
}

static void check_shared_tsv(const char *dir, const char *file, int rows, int toxic) {
    char path[4096];
    snprintf(path, sizeof path, "%s/toxicity/%s", dir, file);
    judge_dataset_opts o = {JUDGE_FORMAT_AUTO, NULL, NULL, "label", 0};
    judge_dataset *ds = judge_dataset_load(path, &o, err, sizeof err);
    CHECK(ds != NULL, "%s: %s", file, err);
    if (!ds) return;
    int *cls = malloc(sizeof(int) * (size_t)ds->n);
    CHECK(ds->n == rows, "%s: %d rows, expected %d", file, ds->n, rows);
    CHECK(judge_dataset_classes(ds, "toxic", cls, err, sizeof err) == 0, "%s: %s", file, err);
    int t = 0, escaped = 0;
    for (int i = 0; i < ds->n; i++) {
        t += cls[i];
        escaped += memchr(ds->items[i].text, '\n', ds->items[i].text_len) != NULL;
        CHECK(!strcmp(ds->items[i].label, cls[i] ? "toxic" : "non-toxic"), "%s:%d label '%s'", file,
              ds->items[i].line, ds->items[i].label);
    }
    CHECK(t == toxic, "%s: %d toxic, expected %d", file, t, toxic);
    CHECK(escaped > 0, "%s: no \\n escape decoded", file);
    CHECK(ds->n_invalid_utf8 == 0, "%s: %d invalid UTF-8", file, ds->n_invalid_utf8);
    CHECK(ds->items[0].line == 2 && !strcmp(ds->items[0].id, "1"), "%s: first row", file);
    /* A card-like 175/175 draw where the data allows it. */
    int *idx = malloc(sizeof(int) * (size_t)ds->n);
    int n = judge_select(ds->n, cls, 350, 1, JUDGE_SELECT_SEED, idx);
    int want = toxic < 175 ? 2 * toxic : 350;
    int ones = 0;
    for (int i = 0; i < n; i++) ones += cls[idx[i]];
    CHECK(n == want && ones == want / 2, "%s: balanced draw %d (%d toxic)", file, n, ones);
    free(idx);
    free(cls);
    judge_dataset_destroy(ds);
}

int main(void) {
    check_csv();
    check_tsv();
    check_jsonl();
    check_text_and_bytes();
    check_hostile();
    check_stdin_and_missing_file();
    check_classes_and_select();
    const char *dir = test_data_dir();
    /* Counts from ../shared/data/README.md (toxicity/). */
    check_shared_tsv(dir, "detoxify_jigsaw_dummy_train.binary.tsv", 282, 28);
    check_shared_tsv(dir, "davidson_labeled_data.binary.tsv", 24783, 20620);
    return test_finish();
}
