/* util: a range of work split over threads (the loader's weight
 * conversion, the C reference's reads and matmuls), and how many
 * processors the machine has. */
#ifndef PHI3VK_UTIL_PAR_H
#define PHI3VK_UTIL_PAR_H

#include <stddef.h>
#include <stdint.h>

/* The most parts (threads) util_par_ranges splits a range into. */
#define UTIL_PAR_MAX 64

/* Processors online (sysconf), 1 .. UTIL_PAR_MAX. */
int util_cpu_count(void);

/* Work on [lo, hi), the part-th of the range (0 <= part < parts). An error
 * is reported by writing a message into err (errlen bytes, "" on entry). */
typedef void (*util_range_fn)(void *ctx, int part, uint64_t lo, uint64_t hi, char *err, size_t errlen);

/* Splits [0, n) into min(parts, n) contiguous ranges, in order, and runs fn
 * on each at once, each on its own thread (the first on the caller's, and
 * any whose thread cannot be started too, after the others have started).
 * Returns when every part has returned: 0, or -1 with the first part's
 * error (in range order) in err. parts is clamped to [1, UTIL_PAR_MAX];
 * n = 0 runs nothing. */
int util_par_ranges(int parts, uint64_t n, util_range_fn fn, void *ctx, char *err, size_t errlen);

#endif
