/* safetensors reader: valid single files and sharded folders read back;
 * hostile headers (truncation, header length past the end, bad JSON,
 * offsets outside the data or overlapping, size/shape mismatch, unknown
 * dtype, bad index) give an error naming the file and the tensor/field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "formats/mapfile.h"
#include "formats/safetensors.h"

static char tmpdir[] = "/tmp/phi3vk-test-st-XXXXXX";

/* A safetensors image: 8-byte length, header JSON, data_bytes of data
 * where byte i = i & 0xFF. Caller frees. */
static uint8_t *image(const char *header, size_t data_bytes, size_t *size) {
    uint64_t h = strlen(header);
    *size = 8 + h + data_bytes;
    uint8_t *b = malloc(*size ? *size : 1);
    memcpy(b, &h, 8);
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_bytes; i++) b[8 + h + i] = (uint8_t)i;
    return b;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
}

static void expect(const char *header, size_t data_bytes, const char *w1, const char *w2) {
    size_t n;
    uint8_t *b = image(header, data_bytes, &n);
    char err[512] = "";
    fmt_st_file *f = fmt_st_open_mem(b, n, "bad.safetensors", err, sizeof err);
    CHECK(!f, "accepted: %s", header);
    CHECK(strstr(err, "bad.safetensors") && strstr(err, w1) && (!w2 || strstr(err, w2)), "expected '%s' / '%s' in '%s'", w1,
          w2 ? w2 : "", err);
    fmt_st_close(f);
    free(b);
}

static const char *GOOD =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[32,34]},"
    "\"i\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[34,42]},"
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[42,42]}}";

static void test_good(void) {
    size_t n;
    uint8_t *b = image(GOOD, 42, &n);
    char err[512] = "";
    fmt_st_file *f = fmt_st_open_mem(b, n, "good.safetensors", err, sizeof err);
    CHECK(f, "%s", err);
    if (f) {
        CHECK(fmt_st_count(f) == 5, "count %llu", (unsigned long long)fmt_st_count(f));
        const fmt_st_tensor *w = fmt_st_find(f, "w"), *h = fmt_st_find(f, "h"), *bt = fmt_st_find(f, "b"), *i = fmt_st_find(f, "i");
        CHECK(w && w->dtype == FMT_DTYPE_F32 && w->n_dims == 2 && w->shape[0] == 2 && w->shape[1] == 3 && w->n_bytes == 24, "w");
        CHECK(w && w->offset == 8 + strlen(GOOD) && w->data == b + w->offset && !strcmp(w->file, "good.safetensors"), "w offset");
        CHECK(h && h->dtype == FMT_DTYPE_F16 && h->n_elements == 4 && ((const uint8_t *)h->data)[0] == 24, "h");
        CHECK(bt && bt->dtype == FMT_DTYPE_BF16 && bt->n_bytes == 2, "b");
        CHECK(i && i->dtype == FMT_DTYPE_OTHER && !strcmp(i->dtype_name, "I64") && i->n_dims == 0 && i->n_elements == 1, "i");
        CHECK(!fmt_st_find(f, "__metadata__") && !fmt_st_find(f, "x"), "find");
        CHECK(fmt_st_at(f, 0) && !strcmp(fmt_st_at(f, 0)->name, "w") && !fmt_st_at(f, 5), "header order");
    }
    fmt_st_close(f);
    /* every truncation fails cleanly */
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, b, k);
        fmt_st_file *t = fmt_st_open_mem(c, k, "cut.safetensors", err, sizeof err);
        if (t || !strstr(err, "cut.safetensors")) bad++;
        fmt_st_close(t);
        free(c);
    }
    CHECK(bad == 0, "%d truncations accepted or unnamed", bad);
    free(b);
}

static void test_hostile(void) {
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20, "tensor w", "outside the data area");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, "tensor w", "size/shape mismatch");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}}", 24, "tensor w", "outside");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
           24, "overlap", NULL);
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]},"
           "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
           16, "overlap", NULL);
    expect("{\"w\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor w", "unsupported dtype \"Q9\"");
    expect("{\"w\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor w", "dtype");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "tensor w", "shape[0]");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "tensor w", "shape[0]");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, "tensor w", "shape");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, "tensor w", "dimensions");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "tensor w", "overflow");
    /* issue 14 row 8: 2^60 F16 elements are 2^61 bytes, but elements x 16 bits wrapped to 0 */
    expect("{\"w\":{\"dtype\":\"F16\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,0]}}", 0, "tensor w", "size/shape mismatch");
    expect("{\"w\":{\"dtype\":\"F64\",\"shape\":[536870912,1073741824],\"data_offsets\":[0,0]}}", 0, "tensor w", "size/shape mismatch");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "tensor w", "data_offsets");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e300]}}", 8, "tensor w", "data_offsets");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor w", "data_offsets");
    expect("{\"w\":[1,2]}", 8, "tensor w", "object");
    expect("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
           16, "tensor w", "twice");
    expect("{\"__metadata__\":3}", 0, "__metadata__", NULL);
    expect("{\"w\":{\"dtype\":\"F32\",", 8, "not valid JSON", NULL);
    expect("[1,2,3]", 0, "JSON object", NULL);
    expect("", 0, "not valid JSON", NULL);

    /* header length fields: past the end, and over the 100 MB limit */
    char err[512] = "";
    uint8_t b[16] = {0};
    uint64_t h = 9;
    memcpy(b, &h, 8);
    memcpy(b + 8, "{}", 2);
    fmt_st_file *f = fmt_st_open_mem(b, 10, "len.safetensors", err, sizeof err);
    CHECK(!f && strstr(err, "len.safetensors") && strstr(err, "header length 9") && strstr(err, "past the end"), "%s", err);
    h = 200000000;
    memcpy(b, &h, 8);
    f = fmt_st_open_mem(b, 16, "len.safetensors", err, sizeof err);
    CHECK(!f && strstr(err, "header length 200000000") && strstr(err, "limit"), "%s", err);
    h = UINT64_MAX;
    memcpy(b, &h, 8);
    f = fmt_st_open_mem(b, 16, "len.safetensors", err, sizeof err);
    CHECK(!f && strstr(err, "header length"), "%s", err);
    f = fmt_st_open_mem(b, 5, "short.safetensors", err, sizeof err);
    CHECK(!f && strstr(err, "short.safetensors") && strstr(err, "too short"), "%s", err);
    f = fmt_st_open("/nonexistent/x.safetensors", err, sizeof err);
    CHECK(!f && strstr(err, "/nonexistent/x.safetensors"), "%s", err);
}

static void test_sharded(void) {
    char path[512], err[512] = "";
    size_t n;
    /* shard 1: a, b; shard 2: c; plus a tensor the index does not list */
    uint8_t *s1 = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}", 12, &n);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", tmpdir);
    write_file(path, s1, n);
    free(s1);
    uint8_t *s2 = image("{\"c\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                        "\"extra\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[6,8]}}", 8, &n);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", tmpdir);
    write_file(path, s2, n);
    free(s2);

    const char *index = "{\"metadata\":{\"total_size\":26},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                        "\"c\":\"model-00002-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\"}}";
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", tmpdir);
    write_file(path, index, strlen(index));
    fmt_st_model *m = fmt_st_model_open(tmpdir, err, sizeof err);
    CHECK(m, "%s", err);
    if (m) {
        CHECK(fmt_st_model_count(m) == 3 && fmt_st_model_n_files(m) == 2, "sharded counts");
        const fmt_st_tensor *c = fmt_st_model_find(m, "c");
        CHECK(c && c->dtype == FMT_DTYPE_BF16 && strstr(c->file, "model-00002-of-00002"), "c in shard 2");
        CHECK(!fmt_st_model_find(m, "extra"), "tensor outside the index listed");
        CHECK(!strcmp(fmt_st_model_at(m, 0)->name, "a") && !strcmp(fmt_st_model_at(m, 2)->name, "c"), "sorted");
    }
    fmt_st_model_close(m);

    struct { const char *index; const char *w1, *w2; } bad[] = {
        {"{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"zz\":\"model-00002-of-00002.safetensors\"}}", "tensor zz", "missing"},
        {"{\"weight_map\":{\"a\":\"model-00003-of-00003.safetensors\"}}", "model-00003-of-00003.safetensors", "cannot open"},
        {"{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}", "weight_map", "plain file name"},
        {"{\"weight_map\":{\"a\":7}}", "weight_map", "a"},
        {"{\"weight_map\":{}}", "weight_map", NULL},
        {"{\"weight_map\":", "JSON", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i].index, strlen(bad[i].index));
        m = fmt_st_model_open(tmpdir, err, sizeof err);
        CHECK(!m && strstr(err, bad[i].w1) && (!bad[i].w2 || strstr(err, bad[i].w2)), "index %zu: '%s'", i, err);
        fmt_st_model_close(m);
    }
    remove(path);
    m = fmt_st_model_open(tmpdir, err, sizeof err);
    CHECK(!m && strstr(err, "no model.safetensors"), "%s", err);
    /* a single model.safetensors */
    uint8_t *one = image(GOOD, 42, &n);
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    write_file(path, one, n);
    free(one);
    m = fmt_st_model_open(tmpdir, err, sizeof err);
    CHECK(m && fmt_st_model_count(m) == 5 && fmt_st_model_n_files(m) == 1 && fmt_st_model_find(m, "w"), "single: %s", err);
    fmt_st_model_close(m);
}

int main(void) {
    if (!mkdtemp(tmpdir)) test_skip("cannot create a temporary folder in /tmp");
    test_good();
    test_hostile();
    test_sharded();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
