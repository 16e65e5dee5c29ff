/* Private to the kernels/ sources: the argument check every op shares. */
#ifndef PHI3VK_KERNELS_INTERNAL_H
#define PHI3VK_KERNELS_INTERNAL_H

#include "kernels/tune.h"

/* 0 when buf is non-NULL and holds at least need bytes; otherwise fails the
 * recording with "op: <what> buffer <name> has N bytes, needs M" and
 * returns -1. */
int kern_need(vkr_cmd *cmd, const char *op, const char *what, const vkr_buffer *buf, uint64_t need);

#endif
