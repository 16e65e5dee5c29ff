/* util: the monotonic clock every timer in phi3vk reads. */
#ifndef PHI3VK_UTIL_TIME_H
#define PHI3VK_UTIL_TIME_H

/* Seconds / milliseconds of CLOCK_MONOTONIC (differences only). */
double util_now_s(void);
double util_now_ms(void);

#endif
