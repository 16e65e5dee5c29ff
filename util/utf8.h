/* util: UTF-8 validation shared by the dataset reader, the results file, the
 * Hub's file names and the terminal printer. Well-formed means RFC 3629: no
 * overlong forms, no surrogates (U+D800..DFFF), nothing past U+10FFFF. */
#ifndef PHI3VK_UTIL_UTF8_H
#define PHI3VK_UTIL_UTF8_H
#include <stddef.h>

/* Bytes (1..4) of the well-formed character at s[0, n), 0 when s does not
 * start one (n == 0, a stray continuation byte, a truncated or overlong
 * sequence, a surrogate, past U+10FFFF). */
size_t util_utf8_char(const unsigned char *s, size_t n);
/* 1 when s[0, n) is entirely well-formed UTF-8. */
int util_utf8_valid(const char *s, size_t n);

#endif
