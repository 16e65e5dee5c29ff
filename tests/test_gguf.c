/* GGUF reader and writer: a written file of every metadata type reads back
 * exactly; the real llama.cpp Phi-3 vocab file reads; hostile files (every
 * truncation, huge counts and lengths, bad offsets, bad types) give a clear
 * error naming the file and the field, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "formats/f16.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/mapfile.h"

static char tmpdir[] = "/tmp/phi3vk-test-gguf-XXXXXX";

/* ---- writer -> reader round trip ---- */

/* Every scalar type, string and numeric arrays; *w collects the first misuse. */
static void add_sample_kv(fmt_gguf_writer *w) {
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000; float f32 = 0.125f; uint8_t b = 1;
    uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll; double f64 = -1.0 / 3.0;
    fmt_gguf_writer_kv(w, "t.u8", FMT_GGUF_UINT8, &u8);
    fmt_gguf_writer_kv(w, "t.i8", FMT_GGUF_INT8, &i8);
    fmt_gguf_writer_kv(w, "t.u16", FMT_GGUF_UINT16, &u16);
    fmt_gguf_writer_kv(w, "t.i16", FMT_GGUF_INT16, &i16);
    fmt_gguf_writer_kv(w, "t.u32", FMT_GGUF_UINT32, &u32);
    fmt_gguf_writer_kv(w, "t.i32", FMT_GGUF_INT32, &i32);
    fmt_gguf_writer_kv(w, "t.f32", FMT_GGUF_FLOAT32, &f32);
    fmt_gguf_writer_kv(w, "t.bool", FMT_GGUF_BOOL, &b);
    fmt_gguf_writer_kv(w, "t.str", FMT_GGUF_STRING, "h\xc3\xa9llo");
    fmt_gguf_writer_kv(w, "t.empty", FMT_GGUF_STRING, "");
    fmt_gguf_writer_kv(w, "t.u64", FMT_GGUF_UINT64, &u64);
    fmt_gguf_writer_kv(w, "t.i64", FMT_GGUF_INT64, &i64);
    fmt_gguf_writer_kv(w, "t.f64", FMT_GGUF_FLOAT64, &f64);
    const char *toks[] = {"<unk>", "", "\xe2\x96\x81the", "<0x0A>"};
    float scores[] = {0.0f, -1.5f, -2.25f, 7.0f};
    int32_t types[] = {2, 1, 1, 6};
    uint8_t bools[] = {1, 0, 1};
    int16_t shorts[] = {-1, 2};
    double dbl[] = {1e300};
    fmt_gguf_writer_arr(w, "a.tokens", FMT_GGUF_STRING, toks, 4);
    fmt_gguf_writer_arr(w, "a.scores", FMT_GGUF_FLOAT32, scores, 4);
    fmt_gguf_writer_arr(w, "a.types", FMT_GGUF_INT32, types, 4);
    fmt_gguf_writer_arr(w, "a.bools", FMT_GGUF_BOOL, bools, 3);
    fmt_gguf_writer_arr(w, "a.shorts", FMT_GGUF_INT16, shorts, 2);
    fmt_gguf_writer_arr(w, "a.f64", FMT_GGUF_FLOAT64, dbl, 1);
    fmt_gguf_writer_arr(w, "a.none", FMT_GGUF_UINT64, NULL, 0);
}

static void add_sample_tensors(fmt_gguf_writer *w) {
    uint64_t ne_a[2] = {5, 3}, ne_b[1] = {7}, ne_c[1] = {1};
    fmt_gguf_writer_tensor(w, "a", FMT_GGML_F32, 2, ne_a);
    fmt_gguf_writer_tensor(w, "b", FMT_GGML_F16, 1, ne_b);
    fmt_gguf_writer_tensor(w, "c", FMT_GGML_BF16, 1, ne_c);
}

static int write_sample(const char *path, char *err, size_t errlen) {
    /* a misuse (duplicate key) is reported by begin and leaves no file */
    fmt_gguf_writer *w = fmt_gguf_writer_create();
    add_sample_kv(w);
    add_sample_tensors(w);
    uint8_t u8 = 1;
    CHECK(fmt_gguf_writer_kv(w, "t.u8", FMT_GGUF_UINT8, &u8) == -1, "duplicate key accepted");
    int rc = fmt_gguf_writer_begin(w, path, err, errlen);
    CHECK(rc == -1 && strstr(err, "t.u8") && strstr(err, "twice"), "misuse not reported: %s", err);
    fmt_gguf_writer_destroy(w);
    CHECK(access(path, F_OK) != 0, "unfinished file left behind");

    /* again, correctly, with the data written in odd chunks */
    w = fmt_gguf_writer_create();
    fmt_gguf_writer_str(w, "general.architecture", "test");
    add_sample_kv(w);
    add_sample_tensors(w);
    if (fmt_gguf_writer_begin(w, path, err, errlen)) goto fail;
    uint8_t data[60 + 14 + 2];
    float fa[15];
    for (int i = 0; i < 15; i++) fa[i] = (float)i - 7.5f;
    memcpy(data, fa, 60);
    for (int i = 0; i < 7; i++) {
        uint16_t h = fmt_f32_to_f16((float)i * 0.5f);
        memcpy(data + 60 + 2 * i, &h, 2);
    }
    data[74] = 0x80, data[75] = 0x3f; /* bf16 1.0 */
    if (fmt_gguf_writer_data(w, data, 7, err, errlen) || fmt_gguf_writer_data(w, data + 7, 60, err, errlen) ||
        fmt_gguf_writer_data(w, data + 67, 9, err, errlen))
        goto fail;
    CHECK(fmt_gguf_writer_data(w, data, 1, err, errlen) == -1 && strstr(err, "beyond"), "overrun accepted");
    if (fmt_gguf_writer_finish(w, err, errlen)) goto fail;
    fmt_gguf_writer_destroy(w);
    return 0;
fail:
    fmt_gguf_writer_destroy(w);
    return -1;
}

static void check_sample(const fmt_gguf *g) {
    char err[512] = "";
    uint32_t u32 = 0; uint64_t u64 = 0; int64_t i64 = 0; float f = 0; double d = 0; int b = 0;
    const char *s = NULL; uint64_t len = 0;
    CHECK(fmt_gguf_version(g) == 3 && fmt_gguf_alignment(g) == 32 && fmt_gguf_kv_count(g) == 22, "header");
    CHECK(fmt_gguf_get_u32(g, "t.u8", &u32, err, sizeof err) == 0 && u32 == 200, "u8");
    CHECK(fmt_gguf_get_i64(g, "t.i8", &i64, err, sizeof err) == 0 && i64 == -100, "i8");
    CHECK(fmt_gguf_get_u32(g, "t.u16", &u32, err, sizeof err) == 0 && u32 == 60000, "u16");
    CHECK(fmt_gguf_get_i64(g, "t.i16", &i64, err, sizeof err) == 0 && i64 == -30000, "i16");
    CHECK(fmt_gguf_get_u32(g, "t.u32", &u32, err, sizeof err) == 0 && u32 == 4000000000u, "u32");
    CHECK(fmt_gguf_get_i64(g, "t.i32", &i64, err, sizeof err) == 0 && i64 == -2000000000, "i32");
    CHECK(fmt_gguf_get_f32(g, "t.f32", &f, err, sizeof err) == 0 && f == 0.125f, "f32");
    CHECK(fmt_gguf_get_bool(g, "t.bool", &b, err, sizeof err) == 0 && b == 1, "bool");
    CHECK(fmt_gguf_get_str(g, "t.str", &s, &len, err, sizeof err) == 0 && len == 6 && !strcmp(s, "h\xc3\xa9llo"), "str");
    CHECK(fmt_gguf_get_str(g, "t.empty", &s, &len, err, sizeof err) == 0 && len == 0 && s && !*s, "empty str");
    CHECK(fmt_gguf_get_u64(g, "t.u64", &u64, err, sizeof err) == 0 && u64 == 18000000000000000000ull, "u64");
    CHECK(fmt_gguf_get_i64(g, "t.i64", &i64, err, sizeof err) == 0 && i64 == -9000000000000000000ll, "i64");
    CHECK(fmt_gguf_get_f64(g, "t.f64", &d, err, sizeof err) == 0 && d == -1.0 / 3.0, "f64");
    /* range and type errors name the key and both sides */
    CHECK(fmt_gguf_get_u32(g, "t.u64", &u32, err, sizeof err) == -1 && strstr(err, "t.u64") && strstr(err, "range"), "%s", err);
    CHECK(fmt_gguf_get_u32(g, "t.i8", &u32, err, sizeof err) == -1 && strstr(err, "-100"), "%s", err);
    CHECK(fmt_gguf_get_i64(g, "t.u64", &i64, err, sizeof err) == -1 && strstr(err, "int64"), "%s", err);
    CHECK(fmt_gguf_get_f32(g, "t.str", &f, err, sizeof err) == -1 && strstr(err, "t.str") && strstr(err, "found string"), "%s", err);
    CHECK(fmt_gguf_get_str(g, "t.u8", &s, &len, err, sizeof err) == -1 && strstr(err, "found uint8"), "%s", err);
    CHECK(fmt_gguf_get_bool(g, "nope", &b, err, sizeof err) == -1 && strstr(err, "nope") && strstr(err, "missing"), "%s", err);
    CHECK(fmt_gguf_find_key(g, "nope") == -1 && fmt_gguf_find_key(g, "t.f64") >= 0, "find_key");

    fmt_gguf_arr a;
    CHECK(fmt_gguf_get_arr(g, "a.tokens", FMT_GGUF_STRING, &a, err, sizeof err) == 0 && a.n == 4 && !a.data, "%s", err);
    const char *expect[] = {"<unk>", "", "\xe2\x96\x81the", "<0x0A>"};
    for (uint64_t i = 0; i < 4; i++)
        CHECK(fmt_gguf_arr_str(&a, i, &s, &len) == 0 && len == strlen(expect[i]) && !memcmp(s, expect[i], len), "token %llu", (unsigned long long)i);
    CHECK(fmt_gguf_arr_str(&a, 4, &s, &len) == -1, "string index past the end");
    CHECK(fmt_gguf_get_arr(g, "a.tokens", FMT_GGUF_FLOAT32, &a, err, sizeof err) == -1 && strstr(err, "array of float32") &&
          strstr(err, "array of string"), "%s", err);
    CHECK(fmt_gguf_get_arr(g, "a.scores", FMT_GGUF_FLOAT32, &a, err, sizeof err) == 0 && a.n == 4, "scores");
    CHECK(fmt_gguf_arr_f32(&a, 1) == -1.5f && fmt_gguf_arr_f32(&a, 3) == 7.0f && fmt_gguf_arr_f32(&a, 4) == 0, "score values");
    CHECK(fmt_gguf_arr_str(&a, 0, &s, &len) == -1, "arr_str on floats");
    CHECK(fmt_gguf_get_arr(g, "a.types", FMT_GGUF_INT32, &a, err, sizeof err) == 0 && fmt_gguf_arr_i64(&a, 3) == 6 &&
          fmt_gguf_arr_i64(&a, 0) == 2, "types");
    CHECK(fmt_gguf_get_arr(g, "a.bools", FMT_GGUF_TYPE_COUNT, &a, err, sizeof err) == 0 && a.type == FMT_GGUF_BOOL &&
          fmt_gguf_arr_i64(&a, 0) == 1 && fmt_gguf_arr_i64(&a, 1) == 0, "bools");
    CHECK(fmt_gguf_get_arr(g, "a.shorts", FMT_GGUF_INT16, &a, err, sizeof err) == 0 && fmt_gguf_arr_i64(&a, 0) == -1 &&
          fmt_gguf_arr_f32(&a, 1) == 2.0f, "shorts");
    CHECK(fmt_gguf_get_arr(g, "a.f64", FMT_GGUF_FLOAT64, &a, err, sizeof err) == 0 && a.n == 1, "f64 array");
    CHECK(fmt_gguf_get_arr(g, "a.none", FMT_GGUF_UINT64, &a, err, sizeof err) == 0 && a.n == 0, "empty array");

    CHECK(fmt_gguf_tensor_count(g) == 3, "tensor count");
    const fmt_gguf_tensor *ta = fmt_gguf_find_tensor(g, "a"), *tb = fmt_gguf_find_tensor(g, "b"), *tc = fmt_gguf_find_tensor(g, "c");
    CHECK(ta && tb && tc && !fmt_gguf_find_tensor(g, "d"), "find tensors");
    if (!ta || !tb || !tc) return;
    CHECK(ta->type == FMT_GGML_F32 && ta->n_dims == 2 && ta->ne[0] == 5 && ta->ne[1] == 3 && ta->n_bytes == 60, "tensor a info");
    CHECK(tb->type == FMT_GGML_F16 && tb->n_elements == 7 && tb->n_bytes == 14 && tc->n_bytes == 2, "tensor b/c info");
    CHECK(ta->offset % 32 == 0 && tb->offset % 32 == 0 && tc->offset % 32 == 0 && ta->offset == fmt_gguf_data_offset(g), "aligned");
    float fa[15];
    memcpy(fa, ta->data, 60);
    CHECK(fa[0] == -7.5f && fa[14] == 6.5f, "tensor a data");
    uint16_t h;
    memcpy(&h, (const uint8_t *)tb->data + 12, 2);
    CHECK(fmt_f16_to_f32(h) == 3.0f, "tensor b data");
    memcpy(&h, tc->data, 2);
    CHECK(fmt_bf16_to_f32(h) == 1.0f, "tensor c data");
}

static void test_roundtrip_and_truncation(void) {
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/sample.gguf", tmpdir);
    CHECK(write_sample(path, err, sizeof err) == 0, "%s", err);
    fmt_gguf *g = fmt_gguf_open(path, err, sizeof err);
    CHECK(g, "%s", err);
    if (!g) return;
    check_sample(g);
    fmt_gguf_close(g);

    /* every prefix that cuts the file before the end of the last tensor's
     * data must be rejected cleanly (the padding after it is optional) */
    size_t n;
    char *bytes = fmt_read_file(path, 1 << 20, &n, err, sizeof err);
    CHECK(n % 32 == 0 && n >= 30, "file size %zu", n);
    n -= 30; /* tensor c (2 bytes) is last, followed by 30 bytes of padding */
    int bad = 0;
    for (size_t k = 0; bytes && k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        memcpy(copy, bytes, k);
        fmt_gguf *t = fmt_gguf_open_mem(copy, k, "cut.gguf", err, sizeof err);
        if (t || !strstr(err, "cut.gguf")) bad++;
        fmt_gguf_close(t);
        free(copy);
    }
    CHECK(bad == 0, "%d truncated files accepted or unnamed", bad);
    free(bytes);
    CHECK(!fmt_gguf_open("/nonexistent.gguf", err, sizeof err) && strstr(err, "/nonexistent.gguf"), "%s", err);
}

/* ---- hostile files built byte by byte ---- */

typedef struct bb {
    uint8_t b[8192];
    size_t n;
} bb;

static void raw(bb *x, const void *p, size_t n) { memcpy(x->b + x->n, p, n), x->n += n; }
static void u32(bb *x, uint32_t v) { raw(x, &v, 4); }
static void u64(bb *x, uint64_t v) { raw(x, &v, 8); }
static void str(bb *x, const char *s) { u64(x, strlen(s)), raw(x, s, strlen(s)); }
static void head(bb *x, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    x->n = 0;
    raw(x, "GGUF", 4), u32(x, version), u64(x, n_tensors), u64(x, n_kv);
}
static void kv_u32(bb *x, const char *k, uint32_t v) { str(x, k), u32(x, FMT_GGUF_UINT32), u32(x, v); }
static void tinfo(bb *x, const char *name, uint64_t ne0, uint32_t type, uint64_t off) {
    str(x, name), u32(x, 1), u64(x, ne0), u32(x, type), u64(x, off);
}
static void pad(bb *x, size_t to) { while (x->n % to) x->b[x->n++] = 0; }

static void expect(bb *x, const char *w1, const char *w2) {
    char err[512] = "";
    uint8_t *copy = malloc(x->n); /* exact size so ASan sees any over-read */
    memcpy(copy, x->b, x->n);
    fmt_gguf *g = fmt_gguf_open_mem(copy, x->n, "hostile.gguf", err, sizeof err);
    CHECK(!g, "accepted (expected '%s')", w1);
    CHECK(strstr(err, "hostile.gguf") && strstr(err, w1) && (!w2 || strstr(err, w2)), "expected '%s' / '%s' in '%s'", w1, w2 ? w2 : "", err);
    fmt_gguf_close(g);
    free(copy);
}

static void test_hostile(void) {
    bb x;
    head(&x, 3, 0, 0), x.b[0] = 'X';
    expect(&x, "magic", NULL);
    head(&x, 1, 0, 0);
    expect(&x, "version 1", NULL);
    head(&x, 0x03000000u, 0, 0);
    expect(&x, "big-endian", NULL);
    head(&x, 3, 0, 1ull << 62);
    expect(&x, "metadata_kv_count", NULL);
    head(&x, 3, 1ull << 60, 0);
    expect(&x, "tensor_count", NULL);
    head(&x, 3, 0, 1), u64(&x, 1ull << 63), raw(&x, "abcdefghijklm", 13);
    expect(&x, "key #0", "length");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_STRING), u64(&x, 0xFFFFFFFFFFFFFFF0ull), raw(&x, "xy", 2);
    expect(&x, "key k", "length");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_ARRAY), u32(&x, FMT_GGUF_UINT32), u64(&x, 1ull << 61), u32(&x, 0);
    expect(&x, "key k", "array");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_ARRAY), u32(&x, FMT_GGUF_STRING), u64(&x, 1000), str(&x, "a");
    expect(&x, "key k", "array");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_ARRAY), u32(&x, FMT_GGUF_STRING), u64(&x, 2), str(&x, "a"), u64(&x, 1ull << 40);
    expect(&x, "key k", "length");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, 99), u32(&x, 0);
    expect(&x, "key k", "unknown value type 99");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_BOOL), raw(&x, "\x07", 1);
    expect(&x, "key k", "bool");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_ARRAY), u32(&x, 42), u64(&x, 1);
    expect(&x, "key k", "element type 42");
    head(&x, 3, 0, 1), str(&x, "k"), u32(&x, FMT_GGUF_ARRAY);
    for (int i = 0; i < 12; i++) u32(&x, FMT_GGUF_ARRAY), u64(&x, 1);
    u32(&x, FMT_GGUF_UINT8), u64(&x, 0);
    expect(&x, "nested", NULL);
    head(&x, 3, 0, 2), kv_u32(&x, "dup", 1), kv_u32(&x, "dup", 2);
    expect(&x, "duplicate key dup", NULL);
    head(&x, 3, 0, 1), kv_u32(&x, "general.alignment", 7);
    expect(&x, "general.alignment", "7");
    head(&x, 3, 0, 1), str(&x, "general.alignment"), u32(&x, FMT_GGUF_STRING), str(&x, "32");
    expect(&x, "general.alignment", "string");

    /* tensor infos */
    head(&x, 3, 1, 0), str(&x, "t"), u32(&x, 5), raw(&x, "0123456789abcdef0123456789abcdef", 32);
    expect(&x, "tensor t", "5 dimensions");
    head(&x, 3, 1, 0), str(&x, "t"), u32(&x, 2), u64(&x, 4), u64(&x, 0), u32(&x, 0), u64(&x, 0);
    expect(&x, "tensor t", "dimension 1");
    head(&x, 3, 1, 0), str(&x, "t"), u32(&x, 2), u64(&x, 1ull << 40), u64(&x, 1ull << 40), u32(&x, 0), u64(&x, 0);
    expect(&x, "tensor t", "too large");
    head(&x, 3, 1, 0), tinfo(&x, "t", 4, 99, 0), pad(&x, 32), raw(&x, "0123456789abcdef", 16);
    expect(&x, "tensor t", "unknown tensor type 99");
    head(&x, 3, 1, 0), tinfo(&x, "t", 4, FMT_GGML_F32, 0), pad(&x, 32), raw(&x, "0123456789", 10);
    expect(&x, "tensor t", "past the end");
    head(&x, 3, 1, 0), tinfo(&x, "t", 4, FMT_GGML_F32, 1ull << 62), pad(&x, 32), raw(&x, "0123456789abcdef", 16);
    expect(&x, "tensor t", "past the end");
    head(&x, 3, 1, 0), tinfo(&x, "t", 4, FMT_GGML_F32, 8), pad(&x, 32), raw(&x, "0123456789abcdef0123456789abcdef", 32);
    expect(&x, "tensor t", "multiple of general.alignment");
    head(&x, 3, 1, 0), tinfo(&x, "t", 33, 2 /* Q4_0 */, 0), pad(&x, 32), raw(&x, "0123456789abcdef0123456789abcdef", 32);
    expect(&x, "tensor t", "block size");
    head(&x, 3, 2, 0), tinfo(&x, "t", 16, FMT_GGML_F32, 0), tinfo(&x, "u", 4, FMT_GGML_F32, 32), pad(&x, 32);
    for (int i = 0; i < 4; i++) raw(&x, "0123456789abcdef0123456789abcdef", 32);
    expect(&x, "overlap", NULL);
    head(&x, 3, 2, 0), tinfo(&x, "t", 4, FMT_GGML_F32, 0), tinfo(&x, "t", 4, FMT_GGML_F32, 32), pad(&x, 32);
    for (int i = 0; i < 2; i++) raw(&x, "0123456789abcdef0123456789abcdef", 32);
    expect(&x, "duplicate tensor t", NULL);
    head(&x, 3, 1, 0), str(&x, "t"), u32(&x, 1), u64(&x, 4), u32(&x, 0), u64(&x, 0);
    expect(&x, "past the end", NULL); /* no data section at all */

    /* and a valid v2 file with a 64-byte alignment and a u64 count key */
    head(&x, 2, 1, 2), kv_u32(&x, "general.alignment", 64);
    str(&x, "c"), u32(&x, FMT_GGUF_UINT64), u64(&x, 12);
    tinfo(&x, "t", 4, FMT_GGML_F32, 0), pad(&x, 64), raw(&x, "0123456789abcdef", 16);
    char err[512] = "";
    fmt_gguf *g = fmt_gguf_open_mem(x.b, x.n, "v2.gguf", err, sizeof err);
    uint32_t c = 0;
    CHECK(g && fmt_gguf_version(g) == 2 && fmt_gguf_alignment(g) == 64, "v2 file: %s", err);
    CHECK(g && fmt_gguf_get_u32(g, "c", &c, err, sizeof err) == 0 && c == 12, "u64 read as u32");
    CHECK(g && fmt_gguf_tensor_at(g, 0)->offset % 64 == 0, "v2 alignment");
    fmt_gguf_close(g);
}

static void test_vocab_file(void) {
    const char *data = getenv("PHI3VK_DATA");
    if (!data || !fmt_is_dir(data)) {
        test_skip_part("PHI3VK_DATA absent: ggml-vocab-phi-3.gguf is not checked");
        return;
    }
    char path[4096], err[512] = "";
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-phi-3.gguf", data);
    fmt_gguf *g = fmt_gguf_open(path, err, sizeof err);
    CHECK(g, "%s", err);
    if (!g) return;
    const char *arch;
    uint32_t bos = 0, eos = 0, n_embd = 0;
    CHECK(fmt_gguf_get_str(g, "general.architecture", &arch, NULL, err, sizeof err) == 0 && !strcmp(arch, "phi3"), "arch");
    CHECK(fmt_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos, err, sizeof err) == 0 && bos == 1, "bos");
    CHECK(fmt_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos, err, sizeof err) == 0 && eos == 32000, "eos");
    CHECK(fmt_gguf_get_u32(g, "phi3.embedding_length", &n_embd, err, sizeof err) == 0 && n_embd == 3072, "n_embd");
    fmt_gguf_arr tok, sc, ty;
    CHECK(fmt_gguf_get_arr(g, "tokenizer.ggml.tokens", FMT_GGUF_STRING, &tok, err, sizeof err) == 0 && tok.n == 32064, "%s", err);
    CHECK(fmt_gguf_get_arr(g, "tokenizer.ggml.scores", FMT_GGUF_FLOAT32, &sc, err, sizeof err) == 0 && sc.n == 32064, "%s", err);
    CHECK(fmt_gguf_get_arr(g, "tokenizer.ggml.token_type", FMT_GGUF_INT32, &ty, err, sizeof err) == 0 && ty.n == 32064, "%s", err);
    const char *s;
    uint64_t len;
    CHECK(fmt_gguf_arr_str(&tok, 1, &s, &len) == 0 && len == 3 && !memcmp(s, "<s>", 3), "token 1");
    CHECK(fmt_gguf_arr_str(&tok, 32000, &s, &len) == 0 && len == 13 && !memcmp(s, "<|endoftext|>", 13), "token 32000");
    CHECK(fmt_gguf_arr_str(&tok, 3, &s, &len) == 0 && len == 6 && !memcmp(s, "<0x00>", 6) && fmt_gguf_arr_i64(&ty, 3) == 6, "byte token");
    fmt_gguf_close(g);
}

int main(void) {
    if (!mkdtemp(tmpdir)) test_skip("cannot create a temporary folder in /tmp");
    test_roundtrip_and_truncation();
    test_hostile();
    test_vocab_file();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
