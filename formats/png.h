/* PNG writer for small images (eval --plot): 8-bit RGB, no interlace, the
 * image data in zlib "stored" blocks (no compression, so no zlib
 * dependency): a 960 x 440 plot is 1.3 MB.
 *
 * Layout (PNG 1.2 / RFC 2083): the 8-byte signature, then chunks of
 * length (4 bytes, big-endian), type, data, CRC-32 of type and data:
 * IHDR (width, height, bit depth 8, colour type 2 = RGB, compression 0,
 * filter 0, interlace 0), one IDAT with the zlib stream (header 0x78 0x01,
 * stored deflate blocks of at most 65535 bytes, Adler-32 of the raw data)
 * of the rows, each prefixed by filter byte 0, and IEND. */
#ifndef PHI3VK_FORMATS_PNG_H
#define PHI3VK_FORMATS_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Writes rgb (h rows of w pixels, 3 bytes each, top row first) as a PNG
 * file at path. w and h in [1, 8192]. Returns 0, or -1 with err naming the
 * path (cannot create, write failed) or the bad size. */
int fmt_png_write(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errlen);

#endif
