/* Private to the kernels/ sources: the argument check every op shares. */
#ifndef PHI3VK_KERNELS_INTERNAL_H
#define PHI3VK_KERNELS_INTERNAL_H

#include "kernels/tune.h"

/* 0 when buf is non-NULL and holds at least need bytes; otherwise fails the
 * recording with "op: <what> buffer <name> has N bytes, needs M" and
 * returns -1. */
int kern_need(vkr_cmd *cmd, const char *op, const char *what, const vkr_buffer *buf, uint64_t need);

/* Rows of weight w (n_rows rows of row_bytes each) that one dispatch binds:
 * all n_rows, or, where the profile reads weights through storage buffers
 * and w is larger than one storage binding, the most whole multiples of 256
 * rows that fit maxStorageBufferRange (row offsets of 256 rows are aligned
 * for any device: minStorageBufferOffsetAlignment <= 256). 0, with a failed
 * recording naming op, w and the limit, when not even 256 rows fit. */
uint64_t kern_part_rows(vkr_cmd *cmd, const char *op, const vkr_buffer *w, uint64_t row_bytes, uint64_t n_rows);

#endif
