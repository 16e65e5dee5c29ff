/* PNG writer with stored (uncompressed) deflate blocks; see png.h. */
#include "formats/png.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STORED_MAX 65535u /* bytes in one stored deflate block */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A chunk written in pieces: its header now, data by chunk_data, the CRC by chunk_end. */
typedef struct chunk {
    FILE *f;
    uint32_t crc;
    int bad;
} chunk;

static void chunk_begin(chunk *c, const char *type, uint32_t len) {
    uint8_t h[8];
    be32(h, len);
    memcpy(h + 4, type, 4);
    c->bad |= fwrite(h, 1, 8, c->f) != 8;
    c->crc = crc_update(0xFFFFFFFFu, h + 4, 4);
}

static void chunk_data(chunk *c, const uint8_t *p, size_t n) {
    c->bad |= fwrite(p, 1, n, c->f) != n;
    c->crc = crc_update(c->crc, p, n);
}

static void chunk_end(chunk *c) {
    uint8_t t[4];
    be32(t, c->crc ^ 0xFFFFFFFFu);
    c->bad |= fwrite(t, 1, 4, c->f) != 4;
}

/* The zlib stream of the filtered rows: raw = h x (1 + 3w) bytes. */
static void write_idat(chunk *c, const uint8_t *rgb, int w, int h) {
    size_t row = 1 + 3 * (size_t)w, raw = row * (size_t)h;
    size_t blocks = (raw + STORED_MAX - 1) / STORED_MAX;
    chunk_begin(c, "IDAT", (uint32_t)(2 + raw + 5 * blocks + 4));
    const uint8_t zhead[2] = {0x78, 0x01};
    chunk_data(c, zhead, 2);
    uint32_t a = 1, b = 0; /* Adler-32 */
    size_t left = raw, pos = 0; /* pos: offset in the raw stream */
    while (left) {
        uint32_t n = left > STORED_MAX ? STORED_MAX : (uint32_t)left;
        uint8_t bh[5] = {left == n, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n, (uint8_t)(~n >> 8)};
        chunk_data(c, bh, 5);
        for (uint32_t k = 0; k < n;) { /* the block's bytes: a filter byte, then pixels, row by row */
            size_t r = pos / row, in = pos % row;
            const uint8_t zero = 0, *src = in == 0 ? &zero : rgb + r * (size_t)w * 3 + (in - 1);
            size_t take = in == 0 ? 1 : row - in;
            if (take > n - k) take = n - k;
            chunk_data(c, src, take);
            for (size_t i = 0; i < take; i++) a = (a + src[i]) % 65521u, b = (b + a) % 65521u;
            k += (uint32_t)take, pos += take;
        }
        left -= n;
    }
    uint8_t ad[4];
    be32(ad, (b << 16) | a);
    chunk_data(c, ad, 4);
    chunk_end(c);
}

int fmt_png_write(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errlen) {
    if (w < 1 || h < 1 || w > 8192 || h > 8192) {
        snprintf(err, errlen, "%s: image of %d x %d pixels (expected 1 to 8192 each way)", path, w, h);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    crc_init();
    chunk c = {f, 0, 0};
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    c.bad |= fwrite(sig, 1, 8, f) != 8;
    uint8_t ihdr[13] = {0};
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    chunk_begin(&c, "IHDR", 13);
    chunk_data(&c, ihdr, 13);
    chunk_end(&c);
    write_idat(&c, rgb, w, h);
    chunk_begin(&c, "IEND", 0);
    chunk_end(&c);
    if (fclose(f) != 0) c.bad = 1;
    if (c.bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}
