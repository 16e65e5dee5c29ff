/* safetensors reader (see safetensors.h). */
#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/mapfile.h"

#define ST_MAX_JSON_VALUES 4000000u /* bounds cJSON's memory (~64 B per value) for hostile headers */
#define ST_MAX_SHARDS 4096
#define INDEX_MAX_BYTES (64u << 20)

struct fmt_st_file {
    char *path;
    fmt_map map;                /* owned mapping; zeroed for _open_mem */
    const uint8_t *base;
    uint64_t size;
    uint64_t n;
    fmt_st_tensor *tensors;     /* n, header order */
    const fmt_st_tensor **sorted; /* n, by name */
};

struct fmt_st_model {
    int n_files;
    fmt_st_file **files;
    uint64_t n;
    const fmt_st_tensor **sorted; /* n, by name */
};

size_t fmt_dtype_size(fmt_dtype t) {
    return t == FMT_DTYPE_F32 ? 4 : t == FMT_DTYPE_F16 || t == FMT_DTYPE_BF16 ? 2 : 0;
}

const char *fmt_dtype_name(fmt_dtype t) {
    static const char *const names[] = {"F32", "F16", "BF16", "other"};
    return (unsigned)t <= FMT_DTYPE_OTHER ? names[t] : "other";
}

/* The dtypes of the safetensors format, with their element sizes in bits. */
static const struct { const char *name; fmt_dtype dt; unsigned bits; } st_dtypes[] = {
    {"F32", FMT_DTYPE_F32, 32},       {"F16", FMT_DTYPE_F16, 16},       {"BF16", FMT_DTYPE_BF16, 16},
    {"F64", FMT_DTYPE_OTHER, 64},     {"I64", FMT_DTYPE_OTHER, 64},     {"U64", FMT_DTYPE_OTHER, 64},
    {"I32", FMT_DTYPE_OTHER, 32},     {"U32", FMT_DTYPE_OTHER, 32},     {"I16", FMT_DTYPE_OTHER, 16},
    {"U16", FMT_DTYPE_OTHER, 16},     {"I8", FMT_DTYPE_OTHER, 8},       {"U8", FMT_DTYPE_OTHER, 8},
    {"BOOL", FMT_DTYPE_OTHER, 8},     {"F8_E4M3", FMT_DTYPE_OTHER, 8},  {"F8_E5M2", FMT_DTYPE_OTHER, 8},
    {"E8M0", FMT_DTYPE_OTHER, 8},
};

static int cmp_tensor_ptr(const void *a, const void *b) {
    return strcmp((*(const fmt_st_tensor *const *)a)->name, (*(const fmt_st_tensor *const *)b)->name);
}

static const fmt_st_tensor *find_sorted(const fmt_st_tensor *const *v, uint64_t n, const char *name) {
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = strcmp(v[mid]->name, name);
        if (r == 0) return v[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Counts JSON values (commas, colons, brackets outside strings): cJSON
 * allocates one node per value, so this bounds its memory before parsing. */
static uint64_t count_json_values(const char *s, uint64_t n) {
    uint64_t count = 0;
    int in_str = 0;
    for (uint64_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ',' || c == ':' || c == '[' || c == '{') {
            count++;
        }
    }
    return count;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* Fills t from its header entry; checks dtype, shape, offsets and size. */
static int parse_entry(fmt_st_file *f, fmt_st_tensor *t, const cJSON *e, uint64_t data_size, char *err, size_t errlen) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e)) return fmt_file_error(err, errlen, f->path, "tensor %s: expected an object with dtype, shape, data_offsets", nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return fmt_file_error(err, errlen, f->path, "tensor %s: field dtype: expected a string", nm);
    unsigned bits = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(dt->valuestring, st_dtypes[i].name)) {
            t->dtype = st_dtypes[i].dt;
            t->dtype_name = st_dtypes[i].name;
            bits = st_dtypes[i].bits;
        }
    if (!bits) return fmt_file_error(err, errlen, f->path, "tensor %s: unsupported dtype \"%.32s\" (expected F32, F16 or BF16)", nm, dt->valuestring);
    if (!cJSON_IsArray(shape)) return fmt_file_error(err, errlen, f->path, "tensor %s: field shape: expected an array of integers", nm);
    int rank = cJSON_GetArraySize(shape);
    if (rank > FMT_ST_MAX_DIMS) return fmt_file_error(err, errlen, f->path, "tensor %s: field shape: %d dimensions (at most %d supported)", nm, rank, FMT_ST_MAX_DIMS);
    t->n_dims = rank;
    t->n_elements = 1;
    int d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, shape) {
        uint64_t x;
        if (json_u64(v, &x)) return fmt_file_error(err, errlen, f->path, "tensor %s: field shape[%d]: expected a non-negative integer", nm, d);
        if (x && t->n_elements > (UINT64_MAX / 8) / x)
            return fmt_file_error(err, errlen, f->path, "tensor %s: field shape: element count overflows", nm);
        t->shape[d++] = x;
        t->n_elements *= x;
    }
    uint64_t b, end;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || json_u64(offs->child, &b) || json_u64(offs->child->next, &end))
        return fmt_file_error(err, errlen, f->path, "tensor %s: field data_offsets: expected [begin, end], two non-negative integers", nm);
    if (b > end || end > data_size)
        return fmt_file_error(err, errlen, f->path, "tensor %s: data_offsets [%llu, %llu) outside the data area of %llu bytes", nm,
                    (unsigned long long)b, (unsigned long long)end, (unsigned long long)data_size);
    /* n_elements <= 2^61 (checked above), so n_elements * bits could wrap:
     * divide first (bits is a multiple of 8) */
    if (t->n_elements > UINT64_MAX / (bits / 8))
        return fmt_file_error(err, errlen, f->path, "tensor %s: field shape: %llu elements of %u bytes overflow a 64-bit size", nm,
                               (unsigned long long)t->n_elements, bits / 8);
    uint64_t want = t->n_elements * (bits / 8);
    if (end - b != want) {
        char shp[160] = "";
        for (int i = 0, k = 0; i < rank && k < (int)sizeof shp - 24; i++)
            k += snprintf(shp + k, sizeof shp - (size_t)k, "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
        return fmt_file_error(err, errlen, f->path, "tensor %s: data_offsets [%llu, %llu) hold %llu bytes, expected shape [%s] x %u bytes = %llu (size/shape mismatch)",
                    nm, (unsigned long long)b, (unsigned long long)end, (unsigned long long)(end - b), shp, bits / 8, (unsigned long long)want);
    }
    t->n_bytes = want;
    t->offset = f->size - data_size + b;
    t->data = f->base + t->offset;
    t->file = f->path;
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    uint64_t x = (*(const fmt_st_tensor *const *)a)->offset, y = (*(const fmt_st_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* No two tensors share bytes, no two share a name; leaves f->sorted by name. */
static int check_layout(fmt_st_file *f, char *err, size_t errlen) {
    const fmt_st_tensor **v = f->sorted;
    for (uint64_t i = 0; i < f->n; i++) v[i] = &f->tensors[i];
    qsort(v, (size_t)f->n, sizeof *v, cmp_offset);
    const fmt_st_tensor *prev = NULL; /* the non-empty tensor reaching furthest so far */
    for (uint64_t i = 0; i < f->n; i++) {
        if (!v[i]->n_bytes) continue;
        if (prev && prev->offset + prev->n_bytes > v[i]->offset)
            return fmt_file_error(err, errlen, f->path, "tensors %s and %s overlap (data_offsets of one start inside the other)", prev->name, v[i]->name);
        if (!prev || v[i]->offset + v[i]->n_bytes > prev->offset + prev->n_bytes) prev = v[i];
    }
    qsort(v, (size_t)f->n, sizeof *v, cmp_tensor_ptr);
    for (uint64_t i = 0; i + 1 < f->n; i++)
        if (!strcmp(v[i]->name, v[i + 1]->name)) return fmt_file_error(err, errlen, f->path, "tensor %s: listed twice in the header", v[i]->name);
    return 0;
}

static int parse_header(fmt_st_file *f, char *err, size_t errlen) {
    uint64_t hlen;
    if (f->size < 8) return fmt_file_error(err, errlen, f->path, "file of %llu bytes is too short for the 8-byte header length (truncated?)", (unsigned long long)f->size);
    memcpy(&hlen, f->base, 8); /* little-endian host assumed (x86-64, arm64) */
    if (hlen > FMT_ST_MAX_HEADER)
        return fmt_file_error(err, errlen, f->path, "header length %llu exceeds the %llu-byte limit", (unsigned long long)hlen, FMT_ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return fmt_file_error(err, errlen, f->path, "header length %llu runs past the end of the file (%llu bytes; truncated?)",
                    (unsigned long long)hlen, (unsigned long long)f->size);
    const char *text = (const char *)f->base + 8;
    if (count_json_values(text, hlen) > ST_MAX_JSON_VALUES)
        return fmt_file_error(err, errlen, f->path, "header holds more than %u JSON values", ST_MAX_JSON_VALUES);
    cJSON *root = cJSON_ParseWithLength(text, (size_t)hlen);
    if (!root) return fmt_file_error(err, errlen, f->path, "header is not valid JSON");
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        fmt_file_error(err, errlen, f->path, "header: expected a JSON object");
        goto done;
    }
    uint64_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) n += strcmp(e->string, "__metadata__") != 0;
    f->tensors = calloc((size_t)(n ? n : 1), sizeof *f->tensors);
    f->sorted = calloc((size_t)(n ? n : 1), sizeof *f->sorted);
    if (!f->tensors || !f->sorted) {
        fmt_file_error(err, errlen, f->path, "out of memory for %llu tensors", (unsigned long long)n);
        goto done;
    }
    uint64_t data_size = f->size - 8 - hlen;
    cJSON_ArrayForEach(e, root) {
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) {
                fmt_file_error(err, errlen, f->path, "header: __metadata__: expected an object");
                goto done;
            }
            continue;
        }
        fmt_st_tensor *t = &f->tensors[f->n];
        if (!(t->name = strdup(e->string))) {
            fmt_file_error(err, errlen, f->path, "out of memory");
            goto done;
        }
        f->n++;
        if (parse_entry(f, t, e, data_size, err, errlen)) goto done;
    }
    rc = check_layout(f, err, errlen);
done:
    cJSON_Delete(root);
    return rc;
}

static fmt_st_file *open_common(fmt_st_file *f, const char *name, char *err, size_t errlen) {
    if (!(f->path = strdup(name))) {
        fmt_file_error(err, errlen, name, "out of memory");
        goto fail;
    }
    if (parse_header(f, err, errlen)) goto fail;
    return f;
fail:
    fmt_st_close(f);
    return NULL;
}

fmt_st_file *fmt_st_open(const char *path, char *err, size_t errlen) {
    fmt_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        fmt_file_error(err, errlen, path, "out of memory");
        return NULL;
    }
    if (fmt_map_open(&f->map, path, err, errlen)) {
        free(f);
        return NULL;
    }
    f->base = f->map.base;
    f->size = f->map.size;
    return open_common(f, path, err, errlen);
}

fmt_st_file *fmt_st_open_mem(const void *data, size_t size, const char *name, char *err, size_t errlen) {
    fmt_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        fmt_file_error(err, errlen, name, "out of memory");
        return NULL;
    }
    f->base = data;
    f->size = size;
    return open_common(f, name, err, errlen);
}

void fmt_st_close(fmt_st_file *f) {
    if (!f) return;
    if (f->tensors)
        for (uint64_t i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    free(f->sorted);
    fmt_map_close(&f->map);
    free(f->path);
    free(f);
}

uint64_t fmt_st_count(const fmt_st_file *f) { return f->n; }

const fmt_st_tensor *fmt_st_at(const fmt_st_file *f, uint64_t i) { return i < f->n ? &f->tensors[i] : NULL; }

const fmt_st_tensor *fmt_st_find(const fmt_st_file *f, const char *name) { return find_sorted(f->sorted, f->n, name); }

/* ---- checkpoints ---- */

static int add_file(fmt_st_model *m, const char *path, char *err, size_t errlen) {
    fmt_st_file **nf = realloc(m->files, (size_t)(m->n_files + 1) * sizeof *nf);
    if (!nf) return fmt_file_error(err, errlen, path, "out of memory");
    m->files = nf;
    if (!(m->files[m->n_files] = fmt_st_open(path, err, errlen))) return -1;
    m->n_files++;
    return 0;
}

/* Index of the open shard named shard (a plain file name in dir), opening it
 * on first use; -1 with err. */
static int shard_of(fmt_st_model *m, const char *dir, const char *index_path, const char *shard, char *err, size_t errlen) {
    if (!*shard || strchr(shard, '/') || !strcmp(shard, ".") || !strcmp(shard, ".."))
        return fmt_file_error(err, errlen, index_path, "weight_map: shard name \"%.64s\" is not a plain file name", shard);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, shard);
    for (int i = 0; i < m->n_files; i++)
        if (!strcmp(fmt_st_model_file(m, i), path)) return i;
    if (m->n_files >= ST_MAX_SHARDS) return fmt_file_error(err, errlen, index_path, "weight_map names more than %d shards", ST_MAX_SHARDS);
    if (add_file(m, path, err, errlen)) return -1;
    return m->n_files - 1;
}

static int open_index(fmt_st_model *m, const char *dir, const char *index_path, char *err, size_t errlen) {
    size_t len;
    char *text = fmt_read_file(index_path, INDEX_MAX_BYTES, &len, err, errlen);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    int rc = -1;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!root) {
        fmt_file_error(err, errlen, index_path, "not valid JSON");
        goto done;
    }
    if (!cJSON_IsObject(wm) || !wm->child) {
        fmt_file_error(err, errlen, index_path, "field weight_map: expected a non-empty object of tensor name -> shard file");
        goto done;
    }
    uint64_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) n++;
    if (!(m->sorted = calloc((size_t)n, sizeof *m->sorted))) {
        fmt_file_error(err, errlen, index_path, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e)) {
            fmt_file_error(err, errlen, index_path, "weight_map: %s: expected a shard file name (string)", e->string);
            goto done;
        }
        int s = shard_of(m, dir, index_path, e->valuestring, err, errlen);
        if (s < 0) goto done;
        const fmt_st_tensor *t = fmt_st_find(m->files[s], e->string);
        if (!t) {
            fmt_file_error(err, errlen, index_path, "weight_map: tensor %s: missing from its shard %s", e->string, e->valuestring);
            goto done;
        }
        m->sorted[m->n++] = t;
    }
    qsort(m->sorted, (size_t)m->n, sizeof *m->sorted, cmp_tensor_ptr);
    for (uint64_t i = 0; i + 1 < m->n; i++)
        if (!strcmp(m->sorted[i]->name, m->sorted[i + 1]->name)) {
            fmt_file_error(err, errlen, index_path, "weight_map: tensor %s listed twice", m->sorted[i]->name);
            goto done;
        }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

fmt_st_model *fmt_st_model_open(const char *dir, char *err, size_t errlen) {
    fmt_st_model *m = calloc(1, sizeof *m);
    char index_path[4096], single[4096];
    if (!m) {
        fmt_file_error(err, errlen, dir, "out of memory");
        return NULL;
    }
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    if (fmt_is_file(index_path)) {
        if (open_index(m, dir, index_path, err, errlen)) goto fail;
        return m;
    }
    if (!fmt_is_file(single)) {
        fmt_file_error(err, errlen, dir, "no model.safetensors or model.safetensors.index.json in this folder");
        goto fail;
    }
    if (add_file(m, single, err, errlen)) goto fail;
    fmt_st_file *f = m->files[0];
    if (!(m->sorted = calloc((size_t)(f->n ? f->n : 1), sizeof *m->sorted))) {
        fmt_file_error(err, errlen, single, "out of memory");
        goto fail;
    }
    m->n = f->n;
    memcpy(m->sorted, f->sorted, (size_t)f->n * sizeof *m->sorted);
    return m;
fail:
    fmt_st_model_close(m);
    return NULL;
}

void fmt_st_model_close(fmt_st_model *m) {
    if (!m) return;
    for (int i = m->n_files - 1; i >= 0; i--) fmt_st_close(m->files[i]);
    free(m->files);
    free(m->sorted);
    free(m);
}

uint64_t fmt_st_model_count(const fmt_st_model *m) { return m->n; }

const fmt_st_tensor *fmt_st_model_at(const fmt_st_model *m, uint64_t i) { return i < m->n ? m->sorted[i] : NULL; }

const fmt_st_tensor *fmt_st_model_find(const fmt_st_model *m, const char *name) { return find_sorted(m->sorted, m->n, name); }

int fmt_st_model_n_files(const fmt_st_model *m) { return m->n_files; }

const char *fmt_st_model_file(const fmt_st_model *m, int i) { return i >= 0 && i < m->n_files ? m->files[i]->path : NULL; }
