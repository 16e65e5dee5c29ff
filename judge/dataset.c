/* Dataset readers for judge runs; formats and error rules in dataset.h. */
#include "judge/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/idset.h"
#include "judge/results.h"
#include "util/utf8.h"

/* ---- formats ------------------------------------------------------------ */

static const char *const FORMAT_NAMES[] = {"auto", "text", "tsv", "tsv-quoted", "csv", "jsonl"};

const char *judge_format_name(judge_format f) {
    return (f >= JUDGE_FORMAT_AUTO && f <= JUDGE_FORMAT_JSONL) ? FORMAT_NAMES[f] : "?";
}

int judge_format_parse(const char *name, judge_format *out) {
    for (int f = JUDGE_FORMAT_AUTO; f <= JUDGE_FORMAT_JSONL; f++) {
        if (name && !strcmp(name, FORMAT_NAMES[f])) {
            *out = (judge_format)f;
            return 0;
        }
    }
    return -1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suffix[i]) return 0;
    }
    return 1;
}

judge_format judge_format_guess(const char *path) {
    if (!path || !strcmp(path, "-")) return JUDGE_FORMAT_TEXT;
    if (ends_with(path, ".tsv")) return JUDGE_FORMAT_TSV;
    if (ends_with(path, ".csv")) return JUDGE_FORMAT_CSV;
    if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson")) return JUDGE_FORMAT_JSONL;
    if (ends_with(path, ".txt")) return JUDGE_FORMAT_TEXT;
    return JUDGE_FORMAT_AUTO;
}

long judge_json_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 6 <= n; i++) {
        if (s[i] != '\\' || s[i + 1] != 'u' || memcmp(s + i + 2, "0000", 4)) continue;
        size_t k = 0; /* backslashes before this one: an even count means it escapes the 'u' */
        while (k < i && s[i - 1 - k] == '\\') k++;
        if (k % 2 == 0) return (long)i;
    }
    return -1;
}

/* ---- UTF-8 ---------------------------------------------------------------- */


/* ---- building a dataset --------------------------------------------------- */

typedef struct builder {
    judge_dataset *ds;
    int cap;          /* items allocated */
    const char *name; /* for messages */
    char *err;
    size_t errlen;
} builder;

static int fail(builder *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void free_keep(char **keep, int n) {
    for (int i = 0; keep && i < n; i++) free(keep[i]);
    free(keep);
}

/* A kept value as JSON text (see judge_item.keep): a string of n bytes, or
 * (v non-NULL) a JSONL field's value. NULL when out of memory. */
static char *keep_json(const char *s, size_t n, const cJSON *v) {
    char *raw = NULL, *text = NULL;
    if (!v) {
        cJSON *str = (raw = dup_bytes(s, n)) ? cJSON_CreateString(raw) : NULL;
        text = str ? cJSON_PrintUnformatted(str) : NULL;
        cJSON_Delete(str);
    } else {
        text = cJSON_PrintUnformatted(v);
    }
    char *out = text ? judge_utf8_sanitize(text) : NULL; /* invalid bytes sit inside strings only */
    free(raw);
    cJSON_free(text);
    return out;
}

/* Appends an item; copies every string, takes keep (ds->n_keep values).
 * row_number names the item when id is NULL. label may be NULL. */
static int add_item(builder *b, int line, long row_number, const char *id, size_t id_len, const char *text,
                    size_t text_len, const char *label, size_t label_len, char **keep) {
    judge_dataset *ds = b->ds;
    if (ds->n == b->cap) {
        if (b->cap > (1 << 29)) {
            free_keep(keep, ds->n_keep);
            return fail(b, "%s: too many items", b->name);
        }
        int cap = b->cap ? b->cap * 2 : 256;
        judge_item *items = realloc(ds->items, (size_t)cap * sizeof *items);
        if (!items) {
            free_keep(keep, ds->n_keep);
            return fail(b, "%s: out of memory", b->name);
        }
        ds->items = items;
        b->cap = cap;
    }
    judge_item *it = &ds->items[ds->n];
    memset(it, 0, sizeof *it);
    char num[32];
    if (!id) {
        id_len = (size_t)snprintf(num, sizeof num, "%ld", row_number);
        id = num;
    }
    it->id = dup_bytes(id, id_len);
    it->text = dup_bytes(text, text_len);
    it->label = label ? dup_bytes(label, label_len) : NULL;
    it->text_len = text_len;
    it->line = line;
    it->keep = keep;
    ds->n++; /* counted before the check so destroy frees what was copied */
    if (!it->id || !it->text || (label && !it->label)) return fail(b, "%s: out of memory", b->name);
    if (!util_utf8_valid(text, text_len) && ds->n_invalid_utf8++ == 0) ds->first_invalid_utf8_line = line;
    return 0;
}

/* Rejects empty and repeated ids, naming the lines involved. */
static int check_ids(builder *b, const char *id_key) {
    judge_idset *set = judge_idset_create();
    if (!set) return fail(b, "%s: out of memory", b->name);
    int rc = 0;
    for (int i = 0; i < b->ds->n && !rc; i++) {
        const judge_item *it = &b->ds->items[i];
        int first = -1;
        if (!it->id[0]) {
            rc = fail(b, "%s:%d: empty id in '%s'", b->name, it->line, id_key);
            break;
        }
        if (!util_utf8_valid(it->id, strlen(it->id))) {
            rc = fail(b, "%s:%d: the id in '%s' is not valid UTF-8", b->name, it->line, id_key);
            break;
        }
        int added = judge_idset_add(set, it->id, i, &first);
        if (added < 0) rc = fail(b, "%s: out of memory", b->name);
        else if (added == 0)
            rc = fail(b, "%s:%d: id '%.64s' in '%s' repeats the id of line %d (ids must be unique: results are "
                         "matched by id)",
                      b->name, it->line, it->id, id_key, b->ds->items[first].line);
    }
    judge_idset_destroy(set);
    return rc;
}

/* ---- text ----------------------------------------------------------------- */

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

static int load_text(builder *b, const char *buf, size_t len, int first_line) {
    int line = first_line > 0 ? first_line - 1 : 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        line++;
        if (n && buf[pos + n - 1] == '\r') n--;
        if (is_blank(buf + pos, n)) b->ds->n_blank++;
        else if (add_item(b, line, line, NULL, 0, buf + pos, n, NULL, 0, NULL)) return -1;
        pos = end + 1;
    }
    return 0;
}

/* ---- tsv / csv records ---------------------------------------------------- */

/* One record's fields, decoded into one growing buffer; each field is
 * NUL-terminated there. */
typedef struct record {
    char *bytes;
    size_t len, cap;
    size_t *off;      /* (n) start of each field in bytes */
    size_t *flen;     /* (n) length of each field */
    int n, ncap;
    int line;         /* line where the record starts */
} record;

static int rec_put(record *r, char c) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        char *p = realloc(r->bytes, cap);
        if (!p) return -1;
        r->bytes = p;
        r->cap = cap;
    }
    r->bytes[r->len++] = c;
    return 0;
}

static int rec_begin_field(record *r) {
    if (r->n == r->ncap) {
        int cap = r->ncap ? r->ncap * 2 : 16;
        size_t *off = realloc(r->off, (size_t)cap * sizeof *off);
        if (off) r->off = off;
        size_t *flen = realloc(r->flen, (size_t)cap * sizeof *flen);
        if (flen) r->flen = flen;
        if (!off || !flen) return -1;
        r->ncap = cap;
    }
    r->off[r->n] = r->len;
    r->flen[r->n] = 0;
    r->n++;
    return 0;
}

static int rec_end_field(record *r) {
    r->flen[r->n - 1] = r->len - r->off[r->n - 1];
    return rec_put(r, 0);
}

static void rec_free(record *r) {
    free(r->bytes);
    free(r->off);
    free(r->flen);
}

typedef struct cursor {
    const char *buf;
    size_t len, pos;
    int line;  /* line number at pos */
} cursor;

/* One line of the backslash-escaped TSV format. */
static int read_tsv_escaped(builder *b, cursor *c, record *r) {
    const char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
    size_t end = nl ? (size_t)(nl - c->buf) : c->len;
    size_t stop = end;
    if (stop > c->pos && c->buf[stop - 1] == '\r') stop--; /* CRLF: a real CR is written \r */
    if (rec_begin_field(r)) return fail(b, "%s: out of memory", b->name);
    for (size_t i = c->pos; i < stop; i++) {
        char ch = c->buf[i];
        int rc = 0;
        if (ch == '\t') {
            rc = rec_end_field(r) || rec_begin_field(r);
        } else if (ch == '\\' && i + 1 < stop) {
            char e = c->buf[i + 1];
            char d = e == '\\' ? '\\' : e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : 0;
            if (d) {
                rc = rec_put(r, d);
                i++;
            } else {
                rc = rec_put(r, ch); /* unknown escape: kept as written */
            }
        } else {
            rc = rec_put(r, ch);
        }
        if (rc) return fail(b, "%s: out of memory", b->name);
    }
    if (rec_end_field(r)) return fail(b, "%s: out of memory", b->name);
    c->pos = end + (nl ? 1 : 0);
    c->line++;
    return 0;
}

/* One RFC 4180 record with delimiter delim; quoted fields may span lines. */
static int read_rfc4180(builder *b, cursor *c, record *r, char delim) {
    for (;;) {
        if (rec_begin_field(r)) return fail(b, "%s: out of memory", b->name);
        int rc = 0;
        if (c->pos < c->len && c->buf[c->pos] == '"') {
            int start_line = c->line;
            c->pos++;
            for (;;) {
                if (c->pos >= c->len)
                    return fail(b, "%s:%d: quoted field of column %d never ends (missing closing '\"')", b->name,
                                start_line, r->n);
                char ch = c->buf[c->pos++];
                if (ch == '"') {
                    if (c->pos < c->len && c->buf[c->pos] == '"') c->pos++;
                    else break;
                }
                if (ch == '\n') c->line++;
                if ((rc = rec_put(r, ch))) break;
            }
            if (!rc && c->pos < c->len && c->buf[c->pos] != delim && c->buf[c->pos] != '\n' &&
                !(c->buf[c->pos] == '\r' && c->pos + 1 < c->len && c->buf[c->pos + 1] == '\n')) {
                char ch = c->buf[c->pos];
                return fail(b, "%s:%d: character '%c' (0x%02x) after the closing quote of column %d; expected a %s "
                               "or the end of the line",
                            b->name, c->line, (ch >= 32 && ch < 127) ? ch : '?', (unsigned char)ch, r->n,
                            delim == '\t' ? "tab" : "comma");
            }
        } else {
            while (!rc && c->pos < c->len) {
                char ch = c->buf[c->pos];
                if (ch == delim || ch == '\n') break;
                if (ch == '\r' && c->pos + 1 < c->len && c->buf[c->pos + 1] == '\n') break;
                rc = rec_put(r, ch);
                c->pos++;
            }
        }
        if (rc || rec_end_field(r)) return fail(b, "%s: out of memory", b->name);
        if (c->pos < c->len && c->buf[c->pos] == delim) {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->buf[c->pos] == '\r') c->pos++;
        if (c->pos < c->len && c->buf[c->pos] == '\n') c->pos++;
        c->line++;
        return 0;
    }
}

/* Reads the next non-blank record. Returns 1 with a record, 0 at the end, -1
 * on error. */
static int next_record(builder *b, cursor *c, record *r, judge_format fmt) {
    for (;;) {
        if (c->pos >= c->len) return 0;
        /* A blank line: nothing, or only a CR, before the newline. */
        size_t p = c->pos;
        if (c->buf[p] == '\r' && p + 1 < c->len && c->buf[p + 1] == '\n') p++;
        if (c->buf[p] == '\n' || (c->buf[p] == '\r' && p + 1 == c->len)) {
            c->pos = p + 1;
            c->line++;
            b->ds->n_blank++;
            continue;
        }
        r->len = 0;
        r->n = 0;
        r->line = c->line;
        int rc = fmt == JUDGE_FORMAT_TSV ? read_tsv_escaped(b, c, r)
                                         : read_rfc4180(b, c, r, fmt == JUDGE_FORMAT_CSV ? ',' : '\t');
        return rc ? -1 : 1;
    }
}

/* Column index of key in the header, -1 with a message listing the columns
 * when absent or ambiguous. */
static int find_column(builder *b, const record *hdr, const char *key) {
    int found = -1;
    for (int i = 0; i < hdr->n; i++) {
        if (strcmp(hdr->bytes + hdr->off[i], key)) continue;
        if (found >= 0) {
            fail(b, "%s: column '%s' appears twice in the header (columns %d and %d)", b->name, key, found + 1,
                 i + 1);
            return -1;
        }
        found = i;
    }
    if (found >= 0) return found;
    int k = snprintf(b->err, b->errlen, "%s: no column '%s' (columns:", b->name, key);
    for (int i = 0; i < hdr->n && k >= 0 && (size_t)k < b->errlen; i++)
        k += snprintf(b->err + k, b->errlen - (size_t)k, "%s '%s'", i ? "," : "", hdr->bytes + hdr->off[i]);
    if (k >= 0 && (size_t)k < b->errlen) snprintf(b->err + k, b->errlen - (size_t)k, ")");
    return -1;
}

static int load_table(builder *b, const char *buf, size_t len, judge_format fmt, const judge_dataset_opts *o) {
    cursor c = {buf, len, 0, 1};
    record hdr = {0}, row = {0};
    int rc = -1;
    int got = next_record(b, &c, &hdr, fmt);
    if (got <= 0) {
        if (got == 0) fail(b, "%s: no header row (the file is empty)", b->name);
        goto done;
    }
    if (o->no_header) {
        /* Name the columns 1..n and read the same record again as data. */
        int n = hdr.n;
        hdr.len = 0;
        hdr.n = 0;
        for (int i = 0; i < n; i++) {
            char num[16];
            int k = snprintf(num, sizeof num, "%d", i + 1);
            if (rec_begin_field(&hdr)) goto oom;
            for (int j = 0; j < k; j++)
                if (rec_put(&hdr, num[j])) goto oom;
            if (rec_end_field(&hdr)) goto oom;
        }
        c.pos = 0;
        c.line = 1;
        b->ds->n_blank = 0;
    }
    const char *text_key = o->text_key ? o->text_key : "text";
    int ct = find_column(b, &hdr, text_key);
    int ci = o->id_key ? find_column(b, &hdr, o->id_key) : -2;
    int cl = o->label_key ? find_column(b, &hdr, o->label_key) : -2;
    if (ct == -1 || ci == -1 || cl == -1) goto done;
    int ck[JUDGE_MAX_KEEP];
    for (int k = 0; k < o->n_keep; k++)
        if ((ck[k] = find_column(b, &hdr, o->keep_keys[k])) < 0) goto done;
    long rows = 0;
    while ((got = next_record(b, &c, &row, fmt)) == 1) {
        rows++;
        if (row.n != hdr.n) {
            fail(b, "%s:%d: %d field%s, the header has %d (an unescaped %s in the text?)", b->name, row.line, row.n,
                 row.n == 1 ? "" : "s", hdr.n, fmt == JUDGE_FORMAT_CSV ? "comma or quote" : "tab");
            goto done;
        }
        const char *id = ci >= 0 ? row.bytes + row.off[ci] : NULL;
        size_t id_len = ci >= 0 ? row.flen[ci] : 0;
        const char *label = cl >= 0 ? row.bytes + row.off[cl] : NULL;
        size_t label_len = cl >= 0 ? row.flen[cl] : 0;
        if (memchr(row.bytes + row.off[ct], 0, row.flen[ct])) {
            fail(b, "%s:%d: NUL byte in column '%s'", b->name, row.line, text_key);
            goto done;
        }
        char **keep = o->n_keep ? calloc((size_t)o->n_keep, sizeof *keep) : NULL;
        if (o->n_keep && !keep) goto oom;
        for (int k = 0; k < o->n_keep; k++)
            if (!(keep[k] = keep_json(row.bytes + row.off[ck[k]], row.flen[ck[k]], NULL))) {
                free_keep(keep, o->n_keep);
                goto oom;
            }
        if (add_item(b, row.line, rows, id, id_len, row.bytes + row.off[ct], row.flen[ct], label, label_len, keep))
            goto done;
    }
    if (got == 0) rc = 0;
    goto done;
oom:
    fail(b, "%s: out of memory", b->name);
done:
    rec_free(&hdr);
    rec_free(&row);
    return rc;
}

/* ---- jsonl ---------------------------------------------------------------- */

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* The field key of obj as text: strings as they are; for ids and labels
 * (allow_scalar) also numbers (integers without a fraction) and booleans.
 * Writes into num when it has to format. Returns NULL with a message. */
static const char *json_field(builder *b, int line, const cJSON *obj, const char *key, int allow_scalar,
                              char *num, size_t numlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        int k = snprintf(b->err, b->errlen, "%s:%d: no field '%s' (fields:", b->name, line, key);
        int i = 0;
        for (const cJSON *f = obj->child; f && k >= 0 && (size_t)k < b->errlen; f = f->next, i++)
            k += snprintf(b->err + k, b->errlen - (size_t)k, "%s '%s'", i ? "," : "", f->string ? f->string : "");
        if (k >= 0 && (size_t)k < b->errlen) snprintf(b->err + k, b->errlen - (size_t)k, "%s)", i ? "" : " none");
        return NULL;
    }
    if (cJSON_IsString(v)) return v->valuestring;
    if (allow_scalar && cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d)
            snprintf(num, numlen, "%lld", (long long)d);
        else
            snprintf(num, numlen, "%.17g", d);
        return num;
    }
    if (allow_scalar && cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    fail(b, "%s:%d: field '%s' is %s, expected a string%s", b->name, line, key, json_kind(v),
         allow_scalar ? " or a number" : "");
    return NULL;
}

static int load_jsonl(builder *b, const char *buf, size_t len, const judge_dataset_opts *o) {
    const char *text_key = o->text_key ? o->text_key : "text";
    int line = o->first_line > 0 ? o->first_line - 1 : 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        const char *s = buf + pos;
        line++;
        pos = end + 1;
        if (is_blank(s, n)) {
            b->ds->n_blank++;
            continue;
        }
        long nul = judge_json_nul_escape(s, n);
        if (nul >= 0)
            return fail(b, "%s:%d: \\u0000 (a NUL character) at byte %ld of the line; a text or id cannot hold NUL "
                           "(it would be cut there)",
                        b->name, line, nul + 1);
        const char *parse_end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &parse_end, 0);
        if (!obj || !cJSON_IsObject(obj)) {
            if (obj) fail(b, "%s:%d: expected a JSON object, found %s", b->name, line, json_kind(obj));
            else fail(b, "%s:%d: invalid JSON near byte %ld of the line", b->name, line,
                      parse_end ? (long)(parse_end - s) + 1 : 1L);
            cJSON_Delete(obj);
            return -1;
        }
        /* Only whitespace may follow the object on its line. */
        if (parse_end && !is_blank(parse_end, n - (size_t)(parse_end - s))) {
            cJSON_Delete(obj);
            return fail(b, "%s:%d: text after the JSON object (one object per line)", b->name, line);
        }
        char idnum[40], labnum[40];
        const char *text = json_field(b, line, obj, text_key, 0, NULL, 0);
        const char *id = (text && o->id_key) ? json_field(b, line, obj, o->id_key, 1, idnum, sizeof idnum) : NULL;
        const char *label =
            (text && o->label_key) ? json_field(b, line, obj, o->label_key, 1, labnum, sizeof labnum) : NULL;
        int rc = -1, ok = text && (id || !o->id_key) && (label || !o->label_key);
        char **keep = ok && o->n_keep ? calloc((size_t)o->n_keep, sizeof *keep) : NULL;
        if (ok && o->n_keep && !keep) ok = 0, fail(b, "%s: out of memory", b->name);
        for (int k = 0; ok && k < o->n_keep; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, o->keep_keys[k]);
            if (!v) ok = 0, json_field(b, line, obj, o->keep_keys[k], 0, NULL, 0); /* the "no field" message */
            else if (!(keep[k] = keep_json(NULL, 0, v))) ok = 0, fail(b, "%s: out of memory", b->name);
        }
        if (ok) rc = add_item(b, line, line, id, id ? strlen(id) : 0, text, strlen(text), label,
                              label ? strlen(label) : 0, keep);
        else free_keep(keep, o->n_keep);
        cJSON_Delete(obj);
        if (rc) return -1;
    }
    return 0;
}

/* ---- entry points --------------------------------------------------------- */

void judge_dataset_destroy(judge_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->n; i++) {
        free(ds->items[i].id);
        free(ds->items[i].text);
        free(ds->items[i].label);
        free_keep(ds->items[i].keep, ds->n_keep);
    }
    free_keep(ds->keep_names, ds->n_keep);
    free(ds->items);
    free(ds);
}

judge_dataset *judge_dataset_parse(const char *buf, size_t len, const char *name, const judge_dataset_opts *opts,
                                   char *err, size_t errlen) {
    judge_dataset_opts none = {0};
    const judge_dataset_opts *o = opts ? opts : &none;
    judge_dataset *ds = calloc(1, sizeof *ds);
    builder b = {ds, 0, name ? name : "<input>", err, errlen};
    if (!ds) {
        fail(&b, "%s: out of memory", b.name);
        return NULL;
    }
    snprintf(ds->source, sizeof ds->source, "%s", b.name);
    ds->format = o->format == JUDGE_FORMAT_AUTO ? judge_format_guess(name) : o->format;
    if (o->n_keep < 0 || o->n_keep > JUDGE_MAX_KEEP) {
        fail(&b, "%s: %d kept columns, at most %d", b.name, o->n_keep, JUDGE_MAX_KEEP);
        judge_dataset_destroy(ds);
        return NULL;
    }
    if (o->n_keep && !(ds->keep_names = calloc((size_t)o->n_keep, sizeof *ds->keep_names))) {
        fail(&b, "%s: out of memory", b.name);
        judge_dataset_destroy(ds);
        return NULL;
    }
    ds->n_keep = o->n_keep;
    for (int k = 0; k < o->n_keep; k++)
        if (!(ds->keep_names[k] = dup_bytes(o->keep_keys[k], strlen(o->keep_keys[k])))) {
            fail(&b, "%s: out of memory", b.name);
            judge_dataset_destroy(ds);
            return NULL;
        }
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
        buf += 3;
        len -= 3;
    }
    int rc = -1;
    const char *nul = len ? memchr(buf, 0, len) : NULL;
    if (ds->format == JUDGE_FORMAT_AUTO) {
        const char *dot = strrchr(b.name, '.'), *slash = strrchr(b.name, '/');
        fail(&b, "%s: cannot tell the format from %s%s%s (plain text is read from .txt files and standard input "
                 "only): pass --format text, tsv, tsv-quoted, csv or jsonl",
             b.name, dot && (!slash || dot > slash) ? "the extension '" : "a name without an extension",
             dot && (!slash || dot > slash) ? dot : "", dot && (!slash || dot > slash) ? "'" : "");
    } else if (nul) {
        int line = o->first_line > 0 ? o->first_line : 1;
        for (const char *p = buf; p < nul; p++) line += *p == '\n';
        fail(&b, "%s:%d: NUL byte (a binary file? expected %s)", b.name, line, judge_format_name(ds->format));
    } else if (ds->format == JUDGE_FORMAT_TEXT) {
        if (o->text_key || o->id_key || o->label_key || o->n_keep)
            fail(&b, "%s: plain text (one item per line) has no columns or fields; '%s' does not apply (use "
                     "tsv, csv or jsonl)",
                 b.name, o->label_key ? o->label_key : o->id_key ? o->id_key : o->text_key ? o->text_key
                                                                                          : o->keep_keys[0]);
        else
            rc = load_text(&b, buf, len, o->first_line);
    } else if (ds->format == JUDGE_FORMAT_JSONL) {
        rc = load_jsonl(&b, buf, len, o);
    } else if (ds->format >= JUDGE_FORMAT_TSV && ds->format <= JUDGE_FORMAT_CSV) {
        rc = load_table(&b, buf, len, ds->format, o);
    } else {
        fail(&b, "%s: unknown format %d", b.name, (int)ds->format);
    }
    if (!rc) rc = check_ids(&b, o->id_key ? o->id_key : "row number");
    if (rc) {
        judge_dataset_destroy(ds);
        return NULL;
    }
    return ds;
}

/* Reads all of f; *n gets the length. NULL with errno set on failure. */
static char *slurp(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *p = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
        if (!p) {
            free(buf);
            errno = ENOMEM;
            return NULL;
        }
        buf = p;
        cap *= 2;
    }
    if (ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *n = len;
    return buf;
}

judge_dataset *judge_dataset_load(const char *path, const judge_dataset_opts *opts, char *err, size_t errlen) {
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t len = 0;
    char *buf = slurp(f, &len);
    int e = errno;
    if (!is_stdin) fclose(f);
    const char *name = is_stdin ? "<stdin>" : path;
    if (!buf) {
        snprintf(err, errlen, "%s: cannot read: %s", name, strerror(e));
        return NULL;
    }
    judge_dataset_opts o = opts ? *opts : (judge_dataset_opts){0};
    if (o.format == JUDGE_FORMAT_AUTO) o.format = judge_format_guess(path);
    judge_dataset *ds = judge_dataset_parse(buf, len, name, &o, err, errlen);
    free(buf);
    return ds;
}
