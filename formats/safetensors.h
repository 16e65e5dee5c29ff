/* safetensors reader over a read-only mmap, single files and sharded
 * Hugging Face checkpoints (model.safetensors.index.json).
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]},
 *  "__metadata__": {...}}, then the data area; offsets are relative to the
 * data area.
 *
 * Checked on open: N <= 100 MB and inside the file, valid JSON, a known dtype,
 * a shape of non-negative integers (rank <= 8), 0 <= begin <= end <= data area
 * size, end - begin == elements x dtype size, no two tensors overlapping, no
 * duplicate names. F32, F16 and BF16 are the dtypes the model loader converts;
 * the other dtypes of the format (F64, I64, U8, BOOL, F8_E4M3, ...) are
 * accepted so that their offsets are still checked, with dtype
 * FMT_DTYPE_OTHER and their name in dtype_name.
 *
 * Errors name the file, the tensor or field, what was expected and found:
 *   "m.safetensors: tensor lm_head.weight: data_offsets [0, 100) hold 100 bytes, expected 32064 x 3072 x 4 = 394002432". */
#ifndef PHI3VK_MODEL_SAFETENSORS_H
#define PHI3VK_MODEL_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define FMT_ST_MAX_HEADER 100000000ull /* bytes of JSON header accepted */
#define FMT_ST_MAX_DIMS 8

/* Element types the model code converts. */
typedef enum fmt_dtype {
    FMT_DTYPE_F32 = 0,   /* IEEE binary32 */
    FMT_DTYPE_F16 = 1,   /* IEEE binary16 */
    FMT_DTYPE_BF16 = 2,  /* bfloat16: the top half of a binary32 */
    FMT_DTYPE_OTHER = 3, /* a valid safetensors dtype this project does not convert */
} fmt_dtype;

/* Bytes per element of F32/F16/BF16 (4, 2, 2); 0 for OTHER. */
size_t fmt_dtype_size(fmt_dtype t);
/* "F32", "F16", "BF16", "other". */
const char *fmt_dtype_name(fmt_dtype t);

/* One tensor. Shape is row-major, slowest dimension first: a matrix of R
 * rows and C columns is shape {R, C}. */
typedef struct fmt_st_tensor {
    const char *name;                    /* NUL-terminated, owned by the file handle */
    fmt_dtype dtype;
    const char *dtype_name;              /* as in the header: "F32", "BF16", "I64", ... (static) */
    int n_dims;                          /* 0 (scalar) .. FMT_ST_MAX_DIMS */
    uint64_t shape[FMT_ST_MAX_DIMS];    /* elements per dimension; unused ones 0 */
    uint64_t n_elements;                 /* product of shape (1 for a scalar) */
    uint64_t n_bytes;                    /* data size in bytes */
    uint64_t offset;                     /* absolute byte offset of the data in the file */
    const void *data;                    /* file start + offset, inside the mapping (unaligned) */
    const char *file;                    /* path of the file that holds it (messages) */
} fmt_st_tensor;

/* ---- one .safetensors file ---- */

typedef struct fmt_st_file fmt_st_file;

/* Maps and validates path. Returns NULL with err on failure. */
fmt_st_file *fmt_st_open(const char *path, char *err, size_t errlen);

/* Same for bytes already in memory (fuzzing, tests): not copied, must stay
 * valid until fmt_st_close(). name is used in messages. */
fmt_st_file *fmt_st_open_mem(const void *data, size_t size, const char *name, char *err, size_t errlen);

/* Unmaps and frees; accepts NULL. */
void fmt_st_close(fmt_st_file *f);

/* Number of tensors (the __metadata__ entry is not a tensor). */
uint64_t fmt_st_count(const fmt_st_file *f);
/* Tensor i in header order; NULL if out of range. */
const fmt_st_tensor *fmt_st_at(const fmt_st_file *f, uint64_t i);
/* Tensor by name; NULL when absent. O(log n). */
const fmt_st_tensor *fmt_st_find(const fmt_st_file *f, const char *name);

/* ---- a checkpoint: model.safetensors or shards + index ---- */

typedef struct fmt_st_model fmt_st_model;

/* Opens the weights of a Hugging Face folder: dir/model.safetensors.index.json
 * when present (every shard it names is opened once; every weight_map entry
 * must be found in its shard; shard names must be plain file names inside
 * dir), else dir/model.safetensors. Returns NULL with err on failure (neither
 * file present, bad index JSON, missing shard, any shard invalid). */
fmt_st_model *fmt_st_model_open(const char *dir, char *err, size_t errlen);

/* Closes every shard; accepts NULL. */
void fmt_st_model_close(fmt_st_model *m);

/* Tensors of the checkpoint (for an index: exactly the weight_map entries),
 * sorted by name. Pointers stay valid until fmt_st_model_close(). */
uint64_t fmt_st_model_count(const fmt_st_model *m);
const fmt_st_tensor *fmt_st_model_at(const fmt_st_model *m, uint64_t i);
const fmt_st_tensor *fmt_st_model_find(const fmt_st_model *m, const char *name);
/* Number of files (1, or the number of shards) and the path of file i. */
int fmt_st_model_n_files(const fmt_st_model *m);
const char *fmt_st_model_file(const fmt_st_model *m, int i);

#endif
