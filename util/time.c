/* util: the monotonic clock (see time.h). */
#include "util/time.h"

#include <time.h>

double util_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double util_now_ms(void) { return util_now_s() * 1e3; }
