/* GGUF v3 writer: metadata of every value type, F32/F16/BF16 and block-type
 * (formats/quant.h) tensors,
 * general.alignment = 32, tensor data streamed (never held in memory).
 *
 * Use: create; add key-value pairs and tensor infos (shapes only); begin
 * (writes the header, metadata and tensor infos); write every tensor's bytes
 * in the order the tensors were added (any chunking: padding between tensors
 * is inserted automatically); finish; destroy.
 *
 *   fmt_gguf_writer *w = fmt_gguf_writer_create();
 *   fmt_gguf_writer_str(w, "general.architecture", "phi3");
 *   uint64_t ne[2] = {cols, rows};                 // fastest-varying first
 *   fmt_gguf_writer_tensor(w, "token_embd.weight", FMT_GGML_F16, 2, ne);
 *   if (fmt_gguf_writer_begin(w, path, err, n)) ...
 *   fmt_gguf_writer_data(w, rows_f16, bytes, err, n);  // repeated
 *   fmt_gguf_writer_finish(w, err, n);
 *   fmt_gguf_writer_destroy(w);
 *
 * The adders record the first misuse (duplicate key or tensor, bad type,
 * adding after begin) and return -1; begin then fails with that message. */
#ifndef PHI3VK_MODEL_GGUF_WRITE_H
#define PHI3VK_MODEL_GGUF_WRITE_H
#include <stddef.h>
#include <stdint.h>

#include "formats/gguf.h"

typedef struct fmt_gguf_writer fmt_gguf_writer;

/* A writer with no keys and no tensors; NULL when out of memory. */
fmt_gguf_writer *fmt_gguf_writer_create(void);

/* Closes the output if still open (an unfinished file is removed) and frees.
 * Accepts NULL. */
void fmt_gguf_writer_destroy(fmt_gguf_writer *w);

/* Adds a scalar. value points to one value of the C type matching type
 * (uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, uint8_t 0/1
 * for BOOL, uint64_t, int64_t, double); for STRING value is the
 * NUL-terminated string itself (a `const char *`). ARRAY is rejected (use
 * fmt_gguf_writer_arr). Keys must be unique and not general.alignment, which
 * is always written as 32. Returns 0 or -1. */
int fmt_gguf_writer_kv(fmt_gguf_writer *w, const char *key, fmt_gguf_type type, const void *value);

/* Adds an array of n elements of elem_type: elems points to n values of the
 * matching C type, or for STRING to n `const char *` strings. Nested arrays
 * are not written. Returns 0 or -1. */
int fmt_gguf_writer_arr(fmt_gguf_writer *w, const char *key, fmt_gguf_type elem_type, const void *elems, uint64_t n);

/* Shorthands for fmt_gguf_writer_kv. */
int fmt_gguf_writer_u32(fmt_gguf_writer *w, const char *key, uint32_t v);
int fmt_gguf_writer_f32(fmt_gguf_writer *w, const char *key, float v);
int fmt_gguf_writer_bool(fmt_gguf_writer *w, const char *key, int v);
int fmt_gguf_writer_str(fmt_gguf_writer *w, const char *key, const char *s);

/* Declares the next tensor: ggml type FMT_GGML_F32, _F16, _BF16 or a block
 * type (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; ne[0] a whole number of blocks), n_dims
 * in 1..4, ne[] fastest-varying first (a matrix of R rows, C columns: ne =
 * {C, R}). Its data must then be written in declaration order. 0 or -1. */
int fmt_gguf_writer_tensor(fmt_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne);

/* Creates path ("-": standard output, which is flushed by finish and never
 * closed) and writes everything before the tensor data. Returns 0, or -1
 * with err (an earlier misuse, or an I/O error naming the path). */
int fmt_gguf_writer_begin(fmt_gguf_writer *w, const char *path, char *err, size_t errlen);

/* Appends n bytes of tensor data (may span tensors). Writing more bytes than
 * the declared tensors hold is an error. 0 or -1 with err. */
int fmt_gguf_writer_data(fmt_gguf_writer *w, const void *data, size_t n, char *err, size_t errlen);

/* Checks that every tensor's bytes were written and closes the file.
 * 0 or -1 with err (the file is then removed by destroy). */
int fmt_gguf_writer_finish(fmt_gguf_writer *w, char *err, size_t errlen);

#endif
