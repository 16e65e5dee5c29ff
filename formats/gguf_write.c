/* GGUF v3 writer (see gguf_write.h). Metadata and tensor infos are small
 * and built in memory; tensor bytes go straight to the file. */
#include "formats/gguf_write.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/quant.h"

#define GGUF_WRITE_ALIGN 32u

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[FMT_GGUF_MAX_DIMS];
    uint64_t n_bytes;
} wtensor;

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

struct fmt_gguf_writer {
    buf kv;              /* serialized key-value pairs */
    uint64_t n_kv;
    char **keys;         /* for duplicate checks */
    wtensor *tensors;
    uint64_t n_tensors;
    char misuse[256];    /* first misuse, reported by begin */
    FILE *f;
    char *path;
    uint64_t cur;        /* tensor being written */
    uint64_t cur_done;   /* bytes of it written */
    int finished;
};

static int put(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

static int put_str(buf *b, const char *s) {
    uint64_t len = strlen(s);
    return put(b, &len, 8) || put(b, s, (size_t)len);
}

static int misuse(fmt_gguf_writer *w, const char *fmt, ...) {
    if (!w->misuse[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->misuse, sizeof w->misuse, fmt, ap);
        va_end(ap);
    }
    return -1;
}

fmt_gguf_writer *fmt_gguf_writer_create(void) { return calloc(1, sizeof(fmt_gguf_writer)); }

void fmt_gguf_writer_destroy(fmt_gguf_writer *w) {
    if (!w) return;
    if (w->f && w->f != stdout) {
        fclose(w->f);
        if (!w->finished && w->path) remove(w->path);
    }
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv.p);
    free(w->path);
    free(w);
}

/* Checks and records a new key, then writes it and the type. */
static int add_key(fmt_gguf_writer *w, const char *key, uint32_t type) {
    if (w->f) return misuse(w, "key %s added after begin", key);
    if (!strcmp(key, "general.alignment")) return misuse(w, "key general.alignment is written by the writer (32)");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return misuse(w, "key %s added twice", key);
    char **k = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *k);
    if (!k) return misuse(w, "out of memory");
    w->keys = k;
    if (!(k[w->n_kv] = strdup(key))) return misuse(w, "out of memory");
    w->n_kv++;
    if (put_str(&w->kv, key) || put(&w->kv, &type, 4)) return misuse(w, "out of memory");
    return 0;
}

int fmt_gguf_writer_kv(fmt_gguf_writer *w, const char *key, fmt_gguf_type type, const void *value) {
    if (type == FMT_GGUF_ARRAY || (unsigned)type >= FMT_GGUF_TYPE_COUNT)
        return misuse(w, "key %s: type %d is not a scalar type", key, (int)type);
    if (add_key(w, key, type)) return -1;
    int rc = type == FMT_GGUF_STRING ? put_str(&w->kv, value) : put(&w->kv, value, fmt_gguf_type_size(type));
    return rc ? misuse(w, "out of memory") : 0;
}

int fmt_gguf_writer_arr(fmt_gguf_writer *w, const char *key, fmt_gguf_type elem_type, const void *elems, uint64_t n) {
    if (elem_type == FMT_GGUF_ARRAY || (unsigned)elem_type >= FMT_GGUF_TYPE_COUNT)
        return misuse(w, "key %s: nested or unknown array element type %d", key, (int)elem_type);
    if (add_key(w, key, FMT_GGUF_ARRAY)) return -1;
    uint32_t et = elem_type;
    int rc = put(&w->kv, &et, 4) || put(&w->kv, &n, 8);
    if (elem_type == FMT_GGUF_STRING) {
        const char *const *s = elems;
        for (uint64_t i = 0; !rc && i < n; i++) rc = put_str(&w->kv, s[i]);
    } else if (n) {
        rc = rc || put(&w->kv, elems, (size_t)(n * fmt_gguf_type_size(elem_type)));
    }
    return rc ? misuse(w, "out of memory") : 0;
}

int fmt_gguf_writer_u32(fmt_gguf_writer *w, const char *key, uint32_t v) { return fmt_gguf_writer_kv(w, key, FMT_GGUF_UINT32, &v); }
int fmt_gguf_writer_f32(fmt_gguf_writer *w, const char *key, float v) { return fmt_gguf_writer_kv(w, key, FMT_GGUF_FLOAT32, &v); }
int fmt_gguf_writer_str(fmt_gguf_writer *w, const char *key, const char *s) { return fmt_gguf_writer_kv(w, key, FMT_GGUF_STRING, s); }

int fmt_gguf_writer_bool(fmt_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return fmt_gguf_writer_kv(w, key, FMT_GGUF_BOOL, &b);
}

int fmt_gguf_writer_tensor(fmt_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne) {
    if (w->f) return misuse(w, "tensor %s added after begin", name);
    uint64_t qk = fmt_quant_block_values(type);
    if (!qk) return misuse(w, "tensor %s: type %s cannot be written (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K or Q6_K)", name,
                           fmt_ggml_type_name(type));
    if (n_dims < 1 || n_dims > FMT_GGUF_MAX_DIMS) return misuse(w, "tensor %s: %u dimensions", name, n_dims);
    if (ne[0] % qk)
        return misuse(w, "tensor %s: %llu values per row are not a whole number of %s blocks (%llu)", name,
                      (unsigned long long)ne[0], fmt_ggml_type_name(type), (unsigned long long)qk);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) return misuse(w, "tensor %s added twice", name);
    wtensor *t = realloc(w->tensors, (size_t)(w->n_tensors + 1) * sizeof *t);
    if (!t) return misuse(w, "out of memory");
    w->tensors = t;
    t += w->n_tensors;
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return misuse(w, "out of memory");
    w->n_tensors++;
    t->type = type;
    t->n_dims = n_dims;
    t->n_bytes = fmt_quant_block_bytes(type);
    for (uint32_t d = 0; d < FMT_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t n = d == 0 ? ne[0] / qk : ne[d]; /* blocks along the row */
        if (ne[d] == 0 || t->n_bytes > UINT64_MAX / 2 / n) return misuse(w, "tensor %s: dimension %u is %llu", name, d, (unsigned long long)ne[d]);
        t->n_bytes *= n;
    }
    return 0;
}

static uint64_t padded(uint64_t n) { return (n + GGUF_WRITE_ALIGN - 1) / GGUF_WRITE_ALIGN * GGUF_WRITE_ALIGN; }

static int io_fail(fmt_gguf_writer *w, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: write failed: %s", w->path ? w->path : "gguf", strerror(errno));
    return -1;
}

static int write_zeros(FILE *f, uint64_t n) {
    static const uint8_t zeros[GGUF_WRITE_ALIGN];
    return n && fwrite(zeros, 1, (size_t)n, f) != n ? -1 : 0;
}

int fmt_gguf_writer_begin(fmt_gguf_writer *w, const char *path, char *err, size_t errlen) {
    if (w->misuse[0]) {
        snprintf(err, errlen, "%s: %s", path, w->misuse);
        return -1;
    }
    if (w->f) {
        snprintf(err, errlen, "%s: begin called twice", path);
        return -1;
    }
    /* general.alignment last among the keys: readers look it up by name */
    uint32_t align = GGUF_WRITE_ALIGN, t_u32 = FMT_GGUF_UINT32;
    if (put_str(&w->kv, "general.alignment") || put(&w->kv, &t_u32, 4) || put(&w->kv, &align, 4) || !(w->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    uint64_t n_kv = w->n_kv + 1;
    if (!(w->f = strcmp(path, "-") ? fopen(path, "wb") : stdout)) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    uint32_t version = 3;
    buf h = {0};
    int rc = put(&h, "GGUF", 4) || put(&h, &version, 4) || put(&h, &w->n_tensors, 8) || put(&h, &n_kv, 8) ||
             put(&h, w->kv.p, w->kv.n);
    uint64_t off = 0;
    for (uint64_t i = 0; !rc && i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        rc = put_str(&h, t->name) || put(&h, &t->n_dims, 4) || put(&h, t->ne, (size_t)t->n_dims * 8) || put(&h, &t->type, 4) ||
             put(&h, &off, 8);
        off += padded(t->n_bytes);
    }
    if (rc) {
        free(h.p);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    rc = fwrite(h.p, 1, h.n, w->f) != h.n || write_zeros(w->f, padded(h.n) - h.n);
    free(h.p);
    return rc ? io_fail(w, err, errlen) : 0;
}

int fmt_gguf_writer_data(fmt_gguf_writer *w, const void *data, size_t n, char *err, size_t errlen) {
    const uint8_t *p = data;
    if (!w->f) {
        snprintf(err, errlen, "gguf writer: data written before begin");
        return -1;
    }
    while (n) {
        if (w->cur >= w->n_tensors) {
            snprintf(err, errlen, "%s: %zu bytes of data beyond the declared tensors", w->path, n);
            return -1;
        }
        wtensor *t = &w->tensors[w->cur];
        uint64_t k = t->n_bytes - w->cur_done;
        if (k > n) k = n;
        if (fwrite(p, 1, (size_t)k, w->f) != k) return io_fail(w, err, errlen);
        p += k;
        n -= (size_t)k;
        w->cur_done += k;
        if (w->cur_done == t->n_bytes) {
            if (write_zeros(w->f, padded(t->n_bytes) - t->n_bytes)) return io_fail(w, err, errlen);
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

int fmt_gguf_writer_finish(fmt_gguf_writer *w, char *err, size_t errlen) {
    if (!w->f) {
        snprintf(err, errlen, "gguf writer: finish before begin");
        return -1;
    }
    if (w->cur < w->n_tensors) {
        snprintf(err, errlen, "%s: tensor %s: %llu of %llu bytes written", w->path, w->tensors[w->cur].name,
                 (unsigned long long)w->cur_done, (unsigned long long)w->tensors[w->cur].n_bytes);
        return -1;
    }
    int to_stdout = w->f == stdout;
    int rc = to_stdout ? fflush(w->f) || ferror(w->f) : fclose(w->f);
    w->f = NULL;
    if (rc) {
        snprintf(err, errlen, "%s: %s failed: %s", to_stdout ? "standard output" : w->path, to_stdout ? "write" : "close",
                 strerror(errno));
        if (!to_stdout) remove(w->path);
        return -1;
    }
    w->finished = 1;
    return 0;
}
