/* GGUF v2/v3 reader (see gguf.h). Parsing walks the header once with a
 * bounds-checked cursor; every count is compared with the bytes left before
 * it is used to size an allocation. */
#include "formats/gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/mapfile.h"

#define GGUF_MAX_KEY_LEN 65535u   /* spec: keys are at most 2^16-1 bytes */
#define GGUF_MAX_NAME_LEN 1024u   /* spec says 64; be lenient, but bounded */
#define GGUF_MAX_NESTING 8        /* arrays of arrays of ... */

typedef struct kv_entry {
    char *key;                 /* NUL-terminated copy */
    fmt_gguf_type type;
    const uint8_t *val;        /* scalar: the value bytes in the file */
    char *str;                 /* STRING: NUL-terminated copy */
    uint64_t str_len;
    fmt_gguf_type arr_type;   /* ARRAY: element type, count, first element */
    uint64_t arr_n;
    const uint8_t *arr_data;
    uint64_t *str_offs;        /* ARRAY of STRING: file offset of each element's u64 length */
} kv_entry;

typedef struct name_idx {
    const char *name;
    uint64_t idx;
} name_idx;

struct fmt_gguf {
    char *path;
    fmt_map map;              /* owned mapping (zeroed for _open_mem) */
    const uint8_t *base;       /* file bytes */
    uint64_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    kv_entry *kv;
    name_idx *kv_sorted;       /* n_kv, sorted by key */
    uint64_t n_tensors;
    fmt_gguf_tensor *tensors;
    name_idx *t_sorted;        /* n_tensors, sorted by name */
    uint64_t data_offset;
};

/* ggml type traits: elements per block and bytes per block; 0 = unknown id. */
static const struct { const char *name; uint32_t blck; uint32_t size; } ggml_types[] = {
    [0] = {"F32", 1, 4},      [1] = {"F16", 1, 2},       [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},   [6] = {"Q5_0", 32, 22},    [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},   [9] = {"Q8_1", 32, 36},    [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110}, [12] = {"Q4_K", 256, 144}, [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210}, [15] = {"Q8_K", 256, 292}, [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18}, [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},     [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},     [27] = {"I64", 1, 8},      [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56}, [30] = {"BF16", 1, 2},    [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66}, [39] = {"MXFP4", 32, 17},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

static const char *const type_names[FMT_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

const char *fmt_ggml_type_name(uint32_t type) {
    return type < N_GGML_TYPES && ggml_types[type].name ? ggml_types[type].name : "unknown";
}

const char *fmt_gguf_type_name(fmt_gguf_type t) {
    return (unsigned)t < FMT_GGUF_TYPE_COUNT ? type_names[t] : "unknown";
}

size_t fmt_gguf_type_size(fmt_gguf_type t) {
    switch (t) {
    case FMT_GGUF_UINT8: case FMT_GGUF_INT8: case FMT_GGUF_BOOL: return 1;
    case FMT_GGUF_UINT16: case FMT_GGUF_INT16: return 2;
    case FMT_GGUF_UINT32: case FMT_GGUF_INT32: case FMT_GGUF_FLOAT32: return 4;
    case FMT_GGUF_UINT64: case FMT_GGUF_INT64: case FMT_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- bounds-checked cursor ---- */

typedef struct cursor {
    const uint8_t *base;
    uint64_t pos, size;
    const char *file;
    char *err;
    size_t errlen;
} cursor;

static int fail(cursor *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
    return -1;
}

static uint64_t left(const cursor *c) { return c->size - c->pos; }

static int take(cursor *c, void *dst, uint64_t n, const char *what) {
    if (n > left(c))
        return fail(c, "%s: needs %llu bytes at offset %llu, file has %llu (truncated?)", what,
                    (unsigned long long)n, (unsigned long long)c->pos, (unsigned long long)c->size);
    if (dst) memcpy(dst, c->base + c->pos, (size_t)n);
    c->pos += n;
    return 0;
}

static int take_u32(cursor *c, uint32_t *v, const char *what) { return take(c, v, 4, what); }
static int take_u64(cursor *c, uint64_t *v, const char *what) { return take(c, v, 8, what); }

/* Reads a GGUF string header; *at = offset of the bytes. Checks the length
 * against max_len and the bytes left. */
static int take_str(cursor *c, uint64_t *len, uint64_t *at, uint64_t max_len, const char *what) {
    if (take_u64(c, len, what)) return -1;
    if (*len > max_len) return fail(c, "%s: string length %llu exceeds the limit %llu", what, (unsigned long long)*len, (unsigned long long)max_len);
    if (*len > left(c))
        return fail(c, "%s: string length %llu runs past the end of the file (%llu bytes left)", what,
                    (unsigned long long)*len, (unsigned long long)left(c));
    *at = c->pos;
    c->pos += *len;
    return 0;
}

static char *dup_bytes(const uint8_t *p, uint64_t n) {
    char *s = malloc((size_t)n + 1);
    if (s) {
        if (n) memcpy(s, p, (size_t)n);
        s[n] = 0;
    }
    return s;
}

/* Smallest number of bytes one element of type t can take in the file. */
static uint64_t min_elem_bytes(fmt_gguf_type t) {
    if (t == FMT_GGUF_STRING) return 8;
    if (t == FMT_GGUF_ARRAY) return 12;
    return fmt_gguf_type_size(t);
}

/* Skips (and validates) a value of type t; used for nested arrays. */
static int skip_value(cursor *c, fmt_gguf_type t, int depth, const char *key);

static int skip_array(cursor *c, int depth, const char *key, fmt_gguf_type *et, uint64_t *n) {
    uint32_t t32 = 0;
    if (depth > GGUF_MAX_NESTING) return fail(c, "%s: arrays nested more than %d deep", key, GGUF_MAX_NESTING);
    if (take_u32(c, &t32, "array element type") || take_u64(c, n, "array length")) return -1;
    if (t32 >= FMT_GGUF_TYPE_COUNT) return fail(c, "%s: unknown array element type %u", key, t32);
    *et = (fmt_gguf_type)t32;
    if (*n > left(c) / min_elem_bytes(*et))
        return fail(c, "%s: array of %llu %s elements cannot fit in the %llu bytes left", key,
                    (unsigned long long)*n, type_names[*et], (unsigned long long)left(c));
    if (*et != FMT_GGUF_STRING && *et != FMT_GGUF_ARRAY) {
        c->pos += *n * fmt_gguf_type_size(*et);
        return 0;
    }
    for (uint64_t i = 0; i < *n; i++)
        if (skip_value(c, *et, depth + 1, key)) return -1;
    return 0;
}

static int skip_value(cursor *c, fmt_gguf_type t, int depth, const char *key) {
    uint64_t len = 0, at = 0;
    fmt_gguf_type et;
    if (t == FMT_GGUF_STRING) return take_str(c, &len, &at, UINT64_MAX, key);
    if (t == FMT_GGUF_ARRAY) return skip_array(c, depth, key, &et, &len);
    return take(c, NULL, fmt_gguf_type_size(t), key);
}

/* ---- parsing ---- */

static int parse_kv(cursor *c, kv_entry *e, uint64_t i) {
    uint64_t len = 0, at = 0;
    char what[256];
    snprintf(what, sizeof what, "key #%llu", (unsigned long long)i);
    if (take_str(c, &len, &at, GGUF_MAX_KEY_LEN, what)) return -1;
    if (!(e->key = dup_bytes(c->base + at, len))) return fail(c, "out of memory");
    snprintf(what, sizeof what, "key %.200s", e->key);
    uint32_t t32 = 0;
    if (take_u32(c, &t32, what)) return -1;
    if (t32 >= FMT_GGUF_TYPE_COUNT) return fail(c, "%s: unknown value type %u", what, t32);
    e->type = (fmt_gguf_type)t32;
    if (e->type == FMT_GGUF_STRING) {
        if (take_str(c, &e->str_len, &at, UINT64_MAX, what)) return -1;
        if (!(e->str = dup_bytes(c->base + at, e->str_len))) return fail(c, "%s: out of memory", what);
        return 0;
    }
    if (e->type != FMT_GGUF_ARRAY) {
        e->val = c->base + c->pos;
        if (take(c, NULL, fmt_gguf_type_size(e->type), what)) return -1;
        if (e->type == FMT_GGUF_BOOL && *e->val > 1) return fail(c, "%s: bool value %u (expected 0 or 1)", what, *e->val);
        return 0;
    }
    uint64_t start = c->pos;
    if (skip_array(c, 0, what, &e->arr_type, &e->arr_n)) return -1;
    e->arr_data = c->base + start + 12;
    if (e->arr_type == FMT_GGUF_STRING) {
        /* second pass: remember where each string starts for O(1) access;
         * n <= bytes/8 was checked, so the table is at most the file size */
        if (!(e->str_offs = malloc((size_t)(e->arr_n ? e->arr_n : 1) * sizeof(uint64_t))))
            return fail(c, "%s: out of memory", what);
        uint64_t p = start + 12;
        for (uint64_t k = 0; k < e->arr_n; k++) {
            e->str_offs[k] = p;
            memcpy(&len, c->base + p, 8);
            p += 8 + len;
        }
    }
    if (e->arr_type == FMT_GGUF_BOOL)
        for (uint64_t k = 0; k < e->arr_n; k++)
            if (e->arr_data[k] > 1) return fail(c, "%s: element %llu: bool value %u (expected 0 or 1)", what, (unsigned long long)k, e->arr_data[k]);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

static int parse_tensor(fmt_gguf *g, cursor *c, uint64_t i) {
    fmt_gguf_tensor *t = &g->tensors[i];
    uint64_t len = 0, at = 0;
    char what[64];
    snprintf(what, sizeof what, "tensor #%llu name", (unsigned long long)i);
    if (take_str(c, &len, &at, GGUF_MAX_NAME_LEN, what)) return -1;
    char *name = dup_bytes(c->base + at, len);
    if (!name) return fail(c, "out of memory");
    t->name = name;
    if (take_u32(c, &t->n_dims, name)) return -1;
    if (t->n_dims < 1 || t->n_dims > FMT_GGUF_MAX_DIMS)
        return fail(c, "tensor %s: %u dimensions (expected 1..%d)", name, t->n_dims, FMT_GGUF_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t d = 0; d < FMT_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (take_u64(c, &t->ne[d], name)) return -1;
        if (t->ne[d] == 0 || t->ne[d] > (UINT64_MAX >> 1) / t->n_elements)
            return fail(c, "tensor %s: dimension %u is %llu (zero or too large)", name, d, (unsigned long long)t->ne[d]);
        t->n_elements *= t->ne[d];
    }
    if (take_u32(c, &t->type, name) || take_u64(c, &t->offset, name)) return -1;
    if (t->type >= N_GGML_TYPES || !ggml_types[t->type].name)
        return fail(c, "tensor %s: unknown tensor type %u", name, t->type);
    uint32_t blck = ggml_types[t->type].blck;
    if (t->ne[0] % blck)
        return fail(c, "tensor %s: ne[0] = %llu is not a multiple of the %s block size %u", name,
                    (unsigned long long)t->ne[0], ggml_types[t->type].name, blck);
    if (t->n_elements / blck > UINT64_MAX / 64)
        return fail(c, "tensor %s: %llu elements is too many", name, (unsigned long long)t->n_elements);
    t->n_bytes = t->n_elements / blck * ggml_types[t->type].size;
    return 0;
}

typedef struct extent {
    uint64_t off, bytes;
    const char *name;
} extent;

static int cmp_extent(const void *a, const void *b) {
    uint64_t x = ((const extent *)a)->off, y = ((const extent *)b)->off;
    return x < y ? -1 : x > y;
}

/* Places the tensors: offsets aligned, inside the file, not overlapping. */
static int place_tensors(fmt_gguf *g, cursor *c) {
    uint64_t a = g->alignment;
    uint64_t pad = (a - c->pos % a) % a;
    g->data_offset = c->pos + pad;
    if (g->n_tensors == 0) return 0;
    if (g->data_offset > g->size)
        return fail(c, "tensor data starts at offset %llu, past the end of the file (%llu bytes)",
                    (unsigned long long)g->data_offset, (unsigned long long)g->size);
    uint64_t room = g->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        fmt_gguf_tensor *t = &g->tensors[i];
        if (t->offset % a)
            return fail(c, "tensor %s: offset %llu is not a multiple of general.alignment %llu", t->name,
                        (unsigned long long)t->offset, (unsigned long long)a);
        if (t->offset > room || t->n_bytes > room - t->offset)
            return fail(c, "tensor %s: data [%llu, +%llu bytes) past the end of the file (%llu bytes of tensor data)",
                        t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes, (unsigned long long)room);
        t->offset += g->data_offset;
        t->data = g->base + t->offset;
    }
    /* no two tensors share bytes: sort the extents by offset */
    extent *ext = malloc((size_t)g->n_tensors * sizeof *ext);
    if (!ext) return fail(c, "out of memory");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        ext[i] = (extent){g->tensors[i].offset, g->tensors[i].n_bytes, g->tensors[i].name};
    qsort(ext, (size_t)g->n_tensors, sizeof *ext, cmp_extent);
    for (uint64_t i = 0; i + 1 < g->n_tensors; i++)
        if (ext[i].off + ext[i].bytes > ext[i + 1].off) {
            fail(c, "tensors %s and %s overlap (data at %llu +%llu bytes and %llu)", ext[i].name, ext[i + 1].name,
                 (unsigned long long)ext[i].off, (unsigned long long)ext[i].bytes, (unsigned long long)ext[i + 1].off);
            free(ext);
            return -1;
        }
    free(ext);
    return 0;
}

/* Sorts names and reports the first duplicate. */
static int sort_unique(cursor *c, name_idx *v, uint64_t n, const char *what) {
    qsort(v, (size_t)n, sizeof *v, cmp_name);
    for (uint64_t i = 0; i + 1 < n; i++)
        if (!strcmp(v[i].name, v[i + 1].name)) return fail(c, "duplicate %s %s", what, v[i].name);
    return 0;
}

static int read_alignment(fmt_gguf *g, cursor *c) {
    g->alignment = 32;
    int64_t i = fmt_gguf_find_key(g, "general.alignment");
    if (i < 0) return 0;
    uint32_t a;
    if (fmt_gguf_get_u32(g, "general.alignment", &a, c->err, c->errlen)) return -1;
    if (a == 0 || a % 8) return fail(c, "general.alignment: %u (expected a nonzero multiple of 8)", a);
    g->alignment = a;
    return 0;
}

static int parse(fmt_gguf *g, cursor *c) {
    uint32_t magic = 0, version = 0;
    if (take_u32(c, &magic, "magic") || take_u32(c, &version, "version")) return -1;
    if (memcmp(&magic, "GGUF", 4)) return fail(c, "not a GGUF file (magic bytes are not \"GGUF\")");
    if (version == 0x02000000u || version == 0x03000000u)
        return fail(c, "big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
        return fail(c, "GGUF version %u is not supported (expected 2 or 3)", version);
    g->version = version;
    if (take_u64(c, &g->n_tensors, "tensor_count") || take_u64(c, &g->n_kv, "metadata_kv_count")) return -1;
    /* a key-value pair takes >= 13 bytes and a tensor info >= 32 */
    if (g->n_kv > left(c) / 13)
        return fail(c, "metadata_kv_count %llu cannot fit in the %llu bytes of the file", (unsigned long long)g->n_kv, (unsigned long long)c->size);
    if (g->n_tensors > left(c) / 32)
        return fail(c, "tensor_count %llu cannot fit in the %llu bytes of the file", (unsigned long long)g->n_tensors, (unsigned long long)c->size);
    size_t nkv = (size_t)(g->n_kv ? g->n_kv : 1), nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    g->kv = calloc(nkv, sizeof *g->kv);
    g->kv_sorted = calloc(nkv, sizeof *g->kv_sorted);
    g->tensors = calloc(nt, sizeof *g->tensors);
    g->t_sorted = calloc(nt, sizeof *g->t_sorted);
    if (!g->kv || !g->kv_sorted || !g->tensors || !g->t_sorted) return fail(c, "out of memory");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (parse_kv(c, &g->kv[i], i)) return -1;
        g->kv_sorted[i] = (name_idx){g->kv[i].key, i};
    }
    if (sort_unique(c, g->kv_sorted, g->n_kv, "key")) return -1;
    if (read_alignment(g, c)) return -1;
    if (g->n_tensors > left(c) / 32)
        return fail(c, "tensor_count %llu cannot fit in the %llu bytes left after the metadata", (unsigned long long)g->n_tensors, (unsigned long long)left(c));
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        if (parse_tensor(g, c, i)) return -1;
        g->t_sorted[i] = (name_idx){g->tensors[i].name, i};
    }
    if (sort_unique(c, g->t_sorted, g->n_tensors, "tensor")) return -1;
    return place_tensors(g, c);
}

static fmt_gguf *open_common(fmt_gguf *g, const char *name, char *err, size_t errlen) {
    cursor c = {g->base, 0, g->size, name, err, errlen};
    if (!(g->path = dup_bytes((const uint8_t *)name, strlen(name)))) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    if (parse(g, &c)) goto fail;
    return g;
fail:
    fmt_gguf_close(g);
    return NULL;
}

fmt_gguf *fmt_gguf_open(const char *path, char *err, size_t errlen) {
    fmt_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (fmt_map_open(&g->map, path, err, errlen)) {
        free(g);
        return NULL;
    }
    g->base = g->map.base;
    g->size = g->map.size;
    return open_common(g, path, err, errlen);
}

fmt_gguf *fmt_gguf_open_mem(const void *data, size_t size, const char *name, char *err, size_t errlen) {
    fmt_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    g->base = data;
    g->size = size;
    return open_common(g, name, err, errlen);
}

void fmt_gguf_close(fmt_gguf *g) {
    if (!g) return;
    if (g->tensors)
        for (uint64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str);
            free(g->kv[i].str_offs);
        }
    free(g->tensors);
    free(g->t_sorted);
    free(g->kv);
    free(g->kv_sorted);
    fmt_map_close(&g->map);
    free(g->path);
    free(g);
}

uint32_t fmt_gguf_version(const fmt_gguf *g) { return g->version; }
uint32_t fmt_gguf_alignment(const fmt_gguf *g) { return g->alignment; }
const char *fmt_gguf_path(const fmt_gguf *g) { return g->path; }
uint64_t fmt_gguf_file_size(const fmt_gguf *g) { return g->size; }
uint64_t fmt_gguf_data_offset(const fmt_gguf *g) { return g->data_offset; }

/* ---- metadata lookups ---- */

static int64_t find_sorted(const name_idx *v, uint64_t n, const char *name) {
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = strcmp(v[mid].name, name);
        if (r == 0) return (int64_t)v[mid].idx;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

uint64_t fmt_gguf_kv_count(const fmt_gguf *g) { return g->n_kv; }

int64_t fmt_gguf_find_key(const fmt_gguf *g, const char *key) { return find_sorted(g->kv_sorted, g->n_kv, key); }

const char *fmt_gguf_kv_key(const fmt_gguf *g, int64_t i) {
    return i >= 0 && (uint64_t)i < g->n_kv ? g->kv[i].key : NULL;
}

fmt_gguf_type fmt_gguf_kv_type(const fmt_gguf *g, int64_t i) {
    return i >= 0 && (uint64_t)i < g->n_kv ? g->kv[i].type : FMT_GGUF_TYPE_COUNT;
}

/* Looks key up and checks its type class; NULL + err when missing/mismatched. */
static const kv_entry *lookup(const fmt_gguf *g, const char *key, int (*ok)(fmt_gguf_type), const char *want,
                              char *err, size_t errlen) {
    int64_t i = fmt_gguf_find_key(g, key);
    if (i < 0) {
        snprintf(err, errlen, "%s: key %s: missing", g->path, key);
        return NULL;
    }
    if (!ok(g->kv[i].type)) {
        snprintf(err, errlen, "%s: key %s: expected %s, found %s", g->path, key, want, type_names[g->kv[i].type]);
        return NULL;
    }
    return &g->kv[i];
}

static int is_int(fmt_gguf_type t) { return t <= FMT_GGUF_INT32 || t == FMT_GGUF_UINT64 || t == FMT_GGUF_INT64; }
static int is_float(fmt_gguf_type t) { return t == FMT_GGUF_FLOAT32 || t == FMT_GGUF_FLOAT64; }
static int is_bool(fmt_gguf_type t) { return t == FMT_GGUF_BOOL; }
static int is_str(fmt_gguf_type t) { return t == FMT_GGUF_STRING; }
static int is_arr(fmt_gguf_type t) { return t == FMT_GGUF_ARRAY; }

/* Decodes one scalar at p (little-endian, unaligned). Integers go to *i
 * (signed types) or *u (unsigned, *neg = 0); floats to *f. */
typedef struct scalar {
    int is_signed, is_float;
    int64_t i;
    uint64_t u;
    double f;
} scalar;

static scalar decode(fmt_gguf_type t, const uint8_t *p) {
    scalar s = {0};
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
    switch (t) {
    case FMT_GGUF_BOOL:
    case FMT_GGUF_UINT8: memcpy(&u8, p, 1); s.u = u8; break;
    case FMT_GGUF_INT8: memcpy(&u8, p, 1); s.is_signed = 1; s.i = (int8_t)u8; break;
    case FMT_GGUF_UINT16: memcpy(&u16, p, 2); s.u = u16; break;
    case FMT_GGUF_INT16: memcpy(&u16, p, 2); s.is_signed = 1; s.i = (int16_t)u16; break;
    case FMT_GGUF_UINT32: memcpy(&u32, p, 4); s.u = u32; break;
    case FMT_GGUF_INT32: memcpy(&u32, p, 4); s.is_signed = 1; s.i = (int32_t)u32; break;
    case FMT_GGUF_UINT64: memcpy(&u64, p, 8); s.u = u64; break;
    case FMT_GGUF_INT64: memcpy(&u64, p, 8); s.is_signed = 1; s.i = (int64_t)u64; break;
    case FMT_GGUF_FLOAT32: memcpy(&f32, p, 4); s.is_float = 1; s.f = f32; break;
    case FMT_GGUF_FLOAT64: memcpy(&f64, p, 8); s.is_float = 1; s.f = f64; break;
    default: break;
    }
    if (s.is_signed) {
        s.f = (double)s.i;
    } else if (!s.is_float) {
        s.f = (double)s.u;
        s.i = s.u > INT64_MAX ? INT64_MAX : (int64_t)s.u;
    }
    return s;
}

static int get_uint(const fmt_gguf *g, const char *key, uint64_t max, uint64_t *out, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_int, "an integer", err, errlen);
    if (!e) return -1;
    scalar s = decode(e->type, e->val);
    if ((s.is_signed && s.i < 0) || (!s.is_signed && s.u > max) || (s.is_signed && (uint64_t)s.i > max)) {
        if (s.is_signed) snprintf(err, errlen, "%s: key %s: value %lld out of range [0, %llu]", g->path, key, (long long)s.i, (unsigned long long)max);
        else snprintf(err, errlen, "%s: key %s: value %llu out of range [0, %llu]", g->path, key, (unsigned long long)s.u, (unsigned long long)max);
        return -1;
    }
    *out = s.is_signed ? (uint64_t)s.i : s.u;
    return 0;
}

int fmt_gguf_get_u32(const fmt_gguf *g, const char *key, uint32_t *out, char *err, size_t errlen) {
    uint64_t v;
    if (get_uint(g, key, UINT32_MAX, &v, err, errlen)) return -1;
    *out = (uint32_t)v;
    return 0;
}

int fmt_gguf_get_u64(const fmt_gguf *g, const char *key, uint64_t *out, char *err, size_t errlen) {
    return get_uint(g, key, UINT64_MAX, out, err, errlen);
}

int fmt_gguf_get_i64(const fmt_gguf *g, const char *key, int64_t *out, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_int, "an integer", err, errlen);
    if (!e) return -1;
    scalar s = decode(e->type, e->val);
    if (!s.is_signed && s.u > INT64_MAX) {
        snprintf(err, errlen, "%s: key %s: value %llu out of range for int64", g->path, key, (unsigned long long)s.u);
        return -1;
    }
    *out = s.i;
    return 0;
}

int fmt_gguf_get_f64(const fmt_gguf *g, const char *key, double *out, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_float, "float32 or float64", err, errlen);
    if (!e) return -1;
    *out = decode(e->type, e->val).f;
    return 0;
}

int fmt_gguf_get_f32(const fmt_gguf *g, const char *key, float *out, char *err, size_t errlen) {
    double d;
    if (fmt_gguf_get_f64(g, key, &d, err, errlen)) return -1;
    *out = (float)d;
    return 0;
}

int fmt_gguf_get_bool(const fmt_gguf *g, const char *key, int *out, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_bool, "bool", err, errlen);
    if (!e) return -1;
    *out = e->val[0] != 0;
    return 0;
}

int fmt_gguf_get_str(const fmt_gguf *g, const char *key, const char **out, uint64_t *len, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_str, "string", err, errlen);
    if (!e) return -1;
    *out = e->str;
    if (len) *len = e->str_len;
    return 0;
}

int fmt_gguf_get_arr(const fmt_gguf *g, const char *key, fmt_gguf_type want, fmt_gguf_arr *out, char *err, size_t errlen) {
    const kv_entry *e = lookup(g, key, is_arr, "array", err, errlen);
    if (!e) return -1;
    if (want != FMT_GGUF_TYPE_COUNT && e->arr_type != want) {
        snprintf(err, errlen, "%s: key %s: expected an array of %s, found an array of %s", g->path, key,
                 fmt_gguf_type_name(want), type_names[e->arr_type]);
        return -1;
    }
    int numeric = e->arr_type != FMT_GGUF_STRING && e->arr_type != FMT_GGUF_ARRAY;
    *out = (fmt_gguf_arr){e->arr_type, e->arr_n, numeric ? e->arr_data : NULL, g, (int64_t)(e - g->kv)};
    return 0;
}

float fmt_gguf_arr_f32(const fmt_gguf_arr *a, uint64_t i) {
    if (!a->data || i >= a->n) return 0.0f;
    return (float)decode(a->type, (const uint8_t *)a->data + i * fmt_gguf_type_size(a->type)).f;
}

int64_t fmt_gguf_arr_i64(const fmt_gguf_arr *a, uint64_t i) {
    if (!a->data || i >= a->n) return 0;
    scalar s = decode(a->type, (const uint8_t *)a->data + i * fmt_gguf_type_size(a->type));
    if (!s.is_float) return s.i;
    /* out-of-range or NaN floats have no int64 value: saturate, NaN -> 0 */
    if (!(s.f == s.f)) return 0;
    if (s.f >= 9223372036854775807.0) return INT64_MAX;
    if (s.f <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)s.f;
}

int fmt_gguf_arr_str(const fmt_gguf_arr *a, uint64_t i, const char **s, uint64_t *len) {
    if (a->type != FMT_GGUF_STRING || i >= a->n || !a->g || a->kv < 0) return -1;
    const kv_entry *e = &a->g->kv[a->kv];
    uint64_t off = e->str_offs[i];
    memcpy(len, a->g->base + off, 8);
    *s = (const char *)a->g->base + off + 8;
    return 0;
}

/* ---- tensors ---- */

uint64_t fmt_gguf_tensor_count(const fmt_gguf *g) { return g->n_tensors; }

const fmt_gguf_tensor *fmt_gguf_tensor_at(const fmt_gguf *g, uint64_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const fmt_gguf_tensor *fmt_gguf_find_tensor(const fmt_gguf *g, const char *name) {
    int64_t i = find_sorted(g->t_sorted, g->n_tensors, name);
    return i < 0 ? NULL : &g->tensors[i];
}
