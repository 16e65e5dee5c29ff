/* GGUF reader (versions 2 and 3, little-endian) over a read-only mmap.
 *
 * The spec is ../shared/data/gguf.md. Layout: magic "GGUF", u32 version,
 * u64 tensor_count, u64 kv_count, kv pairs, tensor infos, padding to
 * general.alignment (default 32), tensor data.
 *
 * Everything in the file is untrusted: every count and length is checked
 * against the bytes that remain before anything is allocated from it, so a
 * hostile file gives an error message, never a huge allocation or a read past
 * the end. Keys and tensor names are unique (duplicates are an error).
 *
 * Lookups return pointers into the handle (or into the mapped file); they stay
 * valid until fmt_gguf_close(). A handle is read-only after open and may be
 * shared between threads.
 *
 * Error messages name the file (the path, or the name given to _open_mem),
 * the field and what was expected and found, e.g.
 *   "x.gguf: tensor blk.3.attn_qkv: data [1024, 1048576) past the end of the file (1000000 bytes)". */
#ifndef PHI3VK_MODEL_GGUF_H
#define PHI3VK_MODEL_GGUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct fmt_gguf fmt_gguf;

/* Metadata value types, numbered as in the file. */
typedef enum fmt_gguf_type {
    FMT_GGUF_UINT8 = 0,
    FMT_GGUF_INT8 = 1,
    FMT_GGUF_UINT16 = 2,
    FMT_GGUF_INT16 = 3,
    FMT_GGUF_UINT32 = 4,
    FMT_GGUF_INT32 = 5,
    FMT_GGUF_FLOAT32 = 6,
    FMT_GGUF_BOOL = 7,     /* one byte, 0 or 1 (other values are an error) */
    FMT_GGUF_STRING = 8,   /* u64 length + bytes, not NUL-terminated in the file */
    FMT_GGUF_ARRAY = 9,    /* u32 element type + u64 count + elements */
    FMT_GGUF_UINT64 = 10,
    FMT_GGUF_INT64 = 11,
    FMT_GGUF_FLOAT64 = 12,
    FMT_GGUF_TYPE_COUNT
} fmt_gguf_type;

/* Tensor element types (ggml_type ids) this project reads; the reader knows
 * the block sizes of all ggml types so it can check offsets of every
 * tensor, but only these are loaded (the block types: formats/quant.h). */
enum {
    FMT_GGML_F32 = 0,
    FMT_GGML_F16 = 1,
    FMT_GGML_Q4_0 = 2,
    FMT_GGML_Q8_0 = 8,
    FMT_GGML_Q4_K = 12,
    FMT_GGML_Q5_K = 13,
    FMT_GGML_Q6_K = 14,
    FMT_GGML_BF16 = 30,
};

#define FMT_GGUF_MAX_DIMS 4

/* One tensor info. Dimensions are listed fastest-varying first as in the
 * file: a row-major matrix of R rows and C columns has ne[0] = C, ne[1] = R. */
typedef struct fmt_gguf_tensor {
    const char *name;              /* NUL-terminated, owned by the handle */
    uint32_t type;                 /* ggml_type id (FMT_GGML_F32 ...) */
    uint32_t n_dims;               /* 1 .. FMT_GGUF_MAX_DIMS */
    uint64_t ne[FMT_GGUF_MAX_DIMS]; /* elements per dimension; unused ones are 1 */
    uint64_t n_elements;           /* product of ne[] */
    uint64_t offset;               /* absolute byte offset of the data in the file */
    uint64_t n_bytes;              /* data size in bytes */
    const void *data;              /* = file start + offset, inside the mapping */
} fmt_gguf_tensor;

/* An array value. Numeric elements are little-endian and generally NOT
 * aligned: read them with the fmt_gguf_arr_* accessors (or memcpy). */
typedef struct fmt_gguf_arr {
    fmt_gguf_type type;           /* element type */
    uint64_t n;                    /* number of elements */
    const void *data;              /* numeric/bool elements: n * fmt_gguf_type_size(type)
                                      bytes in the file; NULL for STRING and ARRAY elements */
    const fmt_gguf *g;            /* owner (for string lookups) */
    int64_t kv;                    /* index of the key-value pair holding the array */
} fmt_gguf_arr;

/* ---- open / close ---- */

/* Maps and parses the file at path. Returns NULL and fills err on failure
 * (missing file, bad magic, version other than 2 or 3, big-endian file,
 * truncated or inconsistent structure, counts or lengths that cannot fit in
 * the file, duplicate keys or tensor names, general.alignment not a nonzero
 * multiple of 8, unknown tensor type, tensor data outside the file). */
fmt_gguf *fmt_gguf_open(const char *path, char *err, size_t errlen);

/* Same as fmt_gguf_open for a buffer already in memory (fuzzing, tests).
 * The buffer is not copied: it must stay valid and unchanged until
 * fmt_gguf_close(). name is used in messages. */
fmt_gguf *fmt_gguf_open_mem(const void *data, size_t size, const char *name, char *err, size_t errlen);

/* Unmaps and frees. Accepts NULL. */
void fmt_gguf_close(fmt_gguf *g);

/* ---- file-level info ---- */

uint32_t fmt_gguf_version(const fmt_gguf *g);     /* 2 or 3 */
uint32_t fmt_gguf_alignment(const fmt_gguf *g);   /* general.alignment or 32 */
const char *fmt_gguf_path(const fmt_gguf *g);     /* path or name given at open */
uint64_t fmt_gguf_file_size(const fmt_gguf *g);   /* bytes */
uint64_t fmt_gguf_data_offset(const fmt_gguf *g); /* start of the tensor data section */

/* Size in bytes of one scalar of a value type: 1, 2, 4 or 8; 0 for STRING,
 * ARRAY and unknown types. */
size_t fmt_gguf_type_size(fmt_gguf_type t);
/* "uint8", "float32", "string", "array", ...; "unknown" for others. */
const char *fmt_gguf_type_name(fmt_gguf_type t);
/* "F32", "F16", "Q4_0", "BF16", ...; "unknown" for ids it does not know. */
const char *fmt_ggml_type_name(uint32_t type);

/* ---- metadata key-value pairs ---- */

/* Number of key-value pairs; index i in [0, count) in file order. */
uint64_t fmt_gguf_kv_count(const fmt_gguf *g);
/* Index of key, or -1 when absent. O(log n). */
int64_t fmt_gguf_find_key(const fmt_gguf *g, const char *key);
/* Key of pair i (NUL-terminated, owned by the handle); NULL if i out of range. */
const char *fmt_gguf_kv_key(const fmt_gguf *g, int64_t i);
/* Value type of pair i; FMT_GGUF_TYPE_COUNT if i out of range. */
fmt_gguf_type fmt_gguf_kv_type(const fmt_gguf *g, int64_t i);

/* Typed getters by key. Each returns 0 and sets *out, or returns -1 and fills
 * err ("file: key phi3.block_count: missing" / "... expected an unsigned
 * integer, found string" / "... value -3 out of range for uint32"), leaving
 * *out unchanged. Use fmt_gguf_find_key() first for optional keys. */

/* Any integer type (u8..i64) whose value fits in uint32 / uint64 / int64. */
int fmt_gguf_get_u32(const fmt_gguf *g, const char *key, uint32_t *out, char *err, size_t errlen);
int fmt_gguf_get_u64(const fmt_gguf *g, const char *key, uint64_t *out, char *err, size_t errlen);
int fmt_gguf_get_i64(const fmt_gguf *g, const char *key, int64_t *out, char *err, size_t errlen);
/* FLOAT32 or FLOAT64 (converted). */
int fmt_gguf_get_f32(const fmt_gguf *g, const char *key, float *out, char *err, size_t errlen);
int fmt_gguf_get_f64(const fmt_gguf *g, const char *key, double *out, char *err, size_t errlen);
/* BOOL: *out is 0 or 1. */
int fmt_gguf_get_bool(const fmt_gguf *g, const char *key, int *out, char *err, size_t errlen);
/* STRING: *out is a NUL-terminated copy owned by the handle; *len (if not
 * NULL) its length in bytes (the string may contain NUL bytes). */
int fmt_gguf_get_str(const fmt_gguf *g, const char *key, const char **out, uint64_t *len,
                      char *err, size_t errlen);
/* ARRAY: fills *out. want is the required element type, or
 * FMT_GGUF_TYPE_COUNT for any; a mismatch is an error naming both types. */
int fmt_gguf_get_arr(const fmt_gguf *g, const char *key, fmt_gguf_type want, fmt_gguf_arr *out,
                      char *err, size_t errlen);

/* Element accessors of an array from fmt_gguf_get_arr. i must be < a->n
 * (else they return 0 / -1). Numeric ones convert from any numeric or bool
 * element type (the tokenizer's float32 scores and int32 token types);
 * arr_i64 truncates floats toward zero, saturating, NaN -> 0. */
float fmt_gguf_arr_f32(const fmt_gguf_arr *a, uint64_t i);
int64_t fmt_gguf_arr_i64(const fmt_gguf_arr *a, uint64_t i);
/* i-th string of a STRING array: *s points into the mapped file and is NOT
 * NUL-terminated; *len is its length in bytes. Returns 0, or -1 if a is not a
 * string array or i >= a->n. O(1). */
int fmt_gguf_arr_str(const fmt_gguf_arr *a, uint64_t i, const char **s, uint64_t *len);

/* ---- tensors ---- */

uint64_t fmt_gguf_tensor_count(const fmt_gguf *g);
/* Tensor i in file order; NULL if out of range. */
const fmt_gguf_tensor *fmt_gguf_tensor_at(const fmt_gguf *g, uint64_t i);
/* Tensor by exact name; NULL when absent. O(log n). */
const fmt_gguf_tensor *fmt_gguf_find_tensor(const fmt_gguf *g, const char *name);

#endif
