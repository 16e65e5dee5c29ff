/* Read-only file mappings shared by the safetensors and GGUF readers, a
 * small whole-file reader for JSON files (config.json, index.json), and the
 * "file: message" error formatter of the model/ readers.
 *
 * Weights are streamed straight out of the mapping; after a range has been
 * converted the reader calls fmt_map_release() so the pages leave this
 * process's resident set (they stay in the page cache): peak RSS stays near
 * the staging size instead of growing to the size of the model. */
#ifndef PHI3VK_MODEL_MAPFILE_H
#define PHI3VK_MODEL_MAPFILE_H
#include <stddef.h>
#include <stdint.h>

/* A mapped file: base[0 .. size). A zero-length file maps to base = NULL. */
typedef struct fmt_map {
    const uint8_t *base;  /* start of the mapping (NULL when size == 0) */
    uint64_t size;        /* file size in bytes */
} fmt_map;

/* Maps path read-only. Returns 0, or -1 with err naming the path and the
 * system error (missing file, a directory, unreadable). */
int fmt_map_open(fmt_map *m, const char *path, char *err, size_t errlen);

/* Unmaps; accepts a zeroed fmt_map. Leaves *m zeroed. */
void fmt_map_close(fmt_map *m);

/* Drops the resident pages wholly inside [p, p + n) of a mapping made by
 * fmt_map_open (not of a caller's memory buffer): later reads fault them in
 * again from the page cache. A hint: never fails. */
void fmt_map_release(const void *p, uint64_t n);

/* Runs fn(arg) with a fault on a mapped page turned into an error: a file
 * that shrinks after fmt_map_open (truncated, rewritten in place) makes
 * reads past its new end raise SIGBUS, which would kill the process.
 * Returns 0 when fn ran to its end, -1 when it was cut short by SIGBUS
 * (whatever fn was writing is then incomplete). Thread-safe: each thread
 * has its own guard; a SIGBUS outside any guard keeps its default action. */
int fmt_map_guard(void (*fn)(void *arg), void *arg);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer; *len gets
 * the length without the NUL. Files larger than max_bytes are an error
 * ("file.json: 300000000 bytes, more than the 100000000 allowed"). Returns
 * NULL with err on failure; the caller frees. */
char *fmt_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errlen);

/* Formats "file: message" into err (as every model/ reader reports) and
 * returns -1, so a check reads `return fmt_file_error(err, n, path, ...)`. */
int fmt_file_error(char *err, size_t errlen, const char *file, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* 1 if path exists and is a directory / a regular file. */
int fmt_is_dir(const char *path);
int fmt_is_file(const char *path);

#endif
