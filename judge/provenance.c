/* Provenance of judge results; see provenance.h. */
#include "judge/provenance.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/results.h"
#include "util/sha256.h"
#include "formats/mapfile.h"
#include "model/source.h"

#define HEADER_MAX FMT_ST_MAX_HEADER
#define CONFIG_MAX (64u << 20)

/* ---- the fields, in the order they are written ---- */

enum { F_STR, F_INT, F_DBL };

#define STR(name) {#name, F_STR, offsetof(judge_provenance, name), sizeof(((judge_provenance *)0)->name)}
#define NUM(name, kind) {#name, kind, offsetof(judge_provenance, name), 0}
static const struct {
    const char *name;
    int kind;
    size_t off, size;
} fields[] = {
    STR(phi3vk_version), STR(model),    STR(weights_sha256), STR(weight_type),   STR(tokenizer),
    STR(tokenizer_sha256), STR(prompt), STR(prompt_sha256),  STR(mode),          NUM(max_new_tokens, F_INT),
    NUM(threshold, F_DBL), STR(too_long), STR(shard),        STR(device),        STR(driver),
    STR(vendor),           STR(device_profile), NUM(no_bos, F_INT),
};
#undef STR
#undef NUM
#define N_FIELDS (sizeof fields / sizeof fields[0])

static char *str_at(const judge_provenance *p, size_t i) { return (char *)p + fields[i].off; }
static int *int_at(const judge_provenance *p, size_t i) { return (int *)((char *)p + fields[i].off); }
static double *dbl_at(const judge_provenance *p, size_t i) { return (double *)((char *)p + fields[i].off); }

char *judge_provenance_line(const judge_provenance *p, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "provenance");
    char *text = NULL, *line = NULL;
    int ok = o != NULL;
    for (size_t i = 0; ok && i < N_FIELDS; i++) {
        if (fields[i].kind == F_STR) ok = cJSON_AddStringToObject(o, fields[i].name, str_at(p, i)) != NULL;
        else if (fields[i].kind == F_INT) ok = cJSON_AddNumberToObject(o, fields[i].name, *int_at(p, i)) != NULL;
        else ok = cJSON_AddNumberToObject(o, fields[i].name, *dbl_at(p, i)) != NULL;
    }
    cJSON *fb = ok ? cJSON_AddArrayToObject(o, "kernel_fallbacks") : NULL;
    for (int i = 0; fb && i < p->n_kernel_fallbacks; i++) cJSON_AddItemToArray(fb, cJSON_CreateString(p->kernel_fallbacks[i]));
    if (fb && cJSON_AddNumberToObject(root, "schema_version", JUDGE_SCHEMA_VERSION) && (text = cJSON_PrintUnformatted(root))) {
        size_t n = strlen(text);
        if ((line = malloc(n + 2))) {
            memcpy(line, text, n);
            memcpy(line + n, "\n", 2);
            if (len) *len = n + 1;
        }
    }
    cJSON_free(text);
    cJSON_Delete(root);
    return line;
}

int judge_provenance_parse(const char *line, size_t len, judge_provenance *out, char *err, size_t errlen) {
    cJSON *root = cJSON_ParseWithLength(line, len);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "provenance");
    int rc = 1;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(root);
        return 0;
    }
    memset(out, 0, sizeof *out);
    for (size_t i = 0; rc == 1 && i < N_FIELDS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[i].name);
        if (!v) continue; /* an older phi3vk's file: the field stays empty and compares as such */
        if (fields[i].kind == F_STR && cJSON_IsString(v)) snprintf(str_at(out, i), fields[i].size, "%s", v->valuestring);
        else if (fields[i].kind == F_INT && cJSON_IsNumber(v)) *int_at(out, i) = (int)fmax(-1e9, fmin(1e9, v->valuedouble));
        else if (fields[i].kind == F_DBL && cJSON_IsNumber(v)) *dbl_at(out, i) = v->valuedouble;
        else rc = -1, snprintf(err, errlen, "provenance field \"%s\" has the wrong type", fields[i].name);
    }
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(o, "kernel_fallbacks"), *e;
    if (rc == 1 && fb && !cJSON_IsArray(fb)) rc = -1, snprintf(err, errlen, "provenance field \"kernel_fallbacks\" is not an array");
    for (e = rc == 1 && fb ? fb->child : NULL; e; e = e->next) {
        if (!cJSON_IsString(e) || out->n_kernel_fallbacks == JUDGE_PROV_MAX_FALLBACKS) {
            rc = -1;
            snprintf(err, errlen, "provenance field \"kernel_fallbacks\": expected at most %d strings", JUDGE_PROV_MAX_FALLBACKS);
            break;
        }
        snprintf(out->kernel_fallbacks[out->n_kernel_fallbacks++], sizeof out->kernel_fallbacks[0], "%s", e->valuestring);
    }
    cJSON_Delete(root);
    return rc;
}

/* Appends "; " (after the first) and the formatted text to msg. */
static void add_diff(char *msg, size_t len, int n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add_diff(char *msg, size_t len, int n, const char *fmt, ...) {
    size_t at = strlen(msg);
    if (n && at + 2 < len) memcpy(msg + at, "; ", 3), at += 2;
    va_list ap;
    va_start(ap, fmt);
    if (at < len) vsnprintf(msg + at, len - at, fmt, ap);
    va_end(ap);
}

static void fallbacks_text(const judge_provenance *p, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < p->n_kernel_fallbacks && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", p->kernel_fallbacks[i]);
    if (!p->n_kernel_fallbacks) snprintf(buf, len, "none");
}

int judge_provenance_diff(const judge_provenance *file, const judge_provenance *run, char *msg, size_t len) {
    int n = 0;
    if (len) msg[0] = 0;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (fields[i].kind == F_STR && strcmp(str_at(file, i), str_at(run, i)))
            add_diff(msg, len, n++, "%s: the file has '%.200s', this run '%.200s'", fields[i].name, str_at(file, i), str_at(run, i));
        else if (fields[i].kind == F_INT && *int_at(file, i) != *int_at(run, i))
            add_diff(msg, len, n++, "%s: the file has %d, this run %d", fields[i].name, *int_at(file, i), *int_at(run, i));
        else if (fields[i].kind == F_DBL && *dbl_at(file, i) != *dbl_at(run, i))
            add_diff(msg, len, n++, "%s: the file has %g, this run %g", fields[i].name, *dbl_at(file, i), *dbl_at(run, i));
    }
    int same = file->n_kernel_fallbacks == run->n_kernel_fallbacks;
    for (int i = 0; same && i < run->n_kernel_fallbacks; i++) same = !strcmp(file->kernel_fallbacks[i], run->kernel_fallbacks[i]);
    if (!same) {
        char a[256], b[256];
        fallbacks_text(file, a, sizeof a);
        fallbacks_text(run, b, sizeof b);
        add_diff(msg, len, n++, "kernel_fallbacks: the file has %s, this run %s", a, b);
    }
    return n;
}

/* ---- hashing ---- */

void judge_sha256_hex(const void *data, size_t n, char out[65]) {
    util_sha256 s;
    util_sha256_init(&s);
    util_sha256_update(&s, data, n);
    util_sha256_final(&s, out);
}

/* Feeds bytes [0, n) of path into s (n = SIZE_MAX: the whole file, at most max). */
static int hash_part(util_sha256 *s, const char *path, uint64_t n, uint64_t max, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return fmt_file_error(err, errlen, path, "cannot open: %s", strerror(errno));
    char buf[1 << 16];
    uint64_t done = 0;
    while (done < n) {
        size_t want = n - done < sizeof buf ? (size_t)(n - done) : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (!got) break;
        util_sha256_update(s, buf, got);
        done += got;
        if (done > max) {
            fclose(f);
            return fmt_file_error(err, errlen, path, "more than %llu bytes", (unsigned long long)max);
        }
    }
    int bad = ferror(f) || (n != UINT64_MAX && done != n);
    fclose(f);
    return bad ? fmt_file_error(err, errlen, path, "cannot read %llu bytes", (unsigned long long)n) : 0;
}

/* SAMPLES pieces of SAMPLE_BYTES spread evenly over bytes [from, end of
 * file) of path: two fine-tunes of one architecture have the same headers,
 * and this tells them apart for the cost of a few reads. */
#define SAMPLES 16
#define SAMPLE_BYTES 4096
static int hash_samples(util_sha256 *s, const char *path, uint64_t from, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return fmt_file_error(err, errlen, path, "cannot open: %s", strerror(errno));
    char buf[SAMPLE_BYTES];
    int rc = fseek(f, 0, SEEK_END);
    long size = ftell(f);
    for (int i = 0; !rc && size >= 0 && (uint64_t)size > from && i < SAMPLES; i++) {
        uint64_t span = (uint64_t)size - from, at = from + span / SAMPLES * (uint64_t)i;
        rc = fseek(f, (long)at, SEEK_SET);
        size_t got = rc ? 0 : fread(buf, 1, sizeof buf, f);
        util_sha256_update(s, buf, got);
    }
    fclose(f);
    return rc || size < 0 ? fmt_file_error(err, errlen, path, "cannot read tensor data") : 0;
}

/* A safetensors file's header (its 8-byte length and the JSON) and samples
 * of its data. */
static int hash_st_header(util_sha256 *s, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    uint64_t hlen = 0;
    int ok = f && fread(&hlen, 8, 1, f) == 1;
    if (f) fclose(f);
    if (!ok || hlen > HEADER_MAX) return fmt_file_error(err, errlen, path, "no readable safetensors header");
    if (hash_part(s, path, 8 + hlen, HEADER_MAX + 8, err, errlen)) return -1;
    return hash_samples(s, path, 8 + hlen, err, errlen);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int hash_hf(const phi3_source *src, util_sha256 *s, char *err, size_t errlen) {
    static const char *const configs[] = {"config.json", "generation_config.json", "model.safetensors.index.json"};
    char path[4200];
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", phi3_source_dir(src), configs[i]);
        if (!fmt_is_file(path)) continue;
        util_sha256_update(s, configs[i], strlen(configs[i]) + 1);
        if (hash_part(s, path, UINT64_MAX, CONFIG_MAX, err, errlen)) return -1;
    }
    /* the files holding tensors, each once, in name order */
    uint64_t n = phi3_source_tensor_count(src), k = 0;
    const char **files = malloc(sizeof *files * (size_t)(n ? n : 1));
    if (!files) return fmt_file_error(err, errlen, phi3_source_path(src), "out of memory");
    for (uint64_t i = 0; i < n; i++) files[k++] = phi3_source_tensor_at(src, i)->file;
    qsort(files, (size_t)k, sizeof *files, cmp_str);
    int rc = 0;
    for (uint64_t i = 0; i < k && !rc; i++) {
        if (i && !strcmp(files[i], files[i - 1])) continue;
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        util_sha256_update(s, base, strlen(base) + 1);
        rc = hash_st_header(s, files[i], err, errlen);
    }
    free(files);
    return rc;
}

/* The dtype every weight shares, or "mixed". */
static void weights_dtype(const phi3_source *src, char out[16]) {
    const char *name = NULL;
    int mixed = 0;
    for (int k = 0; k < PHI3_W_KIND_COUNT; k++) {
        int layers = phi3_weight_is_per_layer((phi3_weight_kind)k) ? phi3_source_config(src)->n_layers : 1;
        for (int l = 0; l < layers; l++) {
            const phi3_tensor *t = phi3_source_weight(src, (phi3_weight_kind)k, l);
            if (!t) continue;
            if (!name) name = t->dtype_name;
            else mixed |= strcmp(name, t->dtype_name) != 0;
        }
    }
    snprintf(out, 16, "%s", !name ? "none" : mixed ? "mixed" : name);
}

int judge_provenance_hash_model(const phi3_source *src, char out[65], char weight_type[16], char *err,
                                size_t errlen) {
    util_sha256 s;
    util_sha256_init(&s);
    const fmt_gguf *g = phi3_source_gguf(src);
    int rc = g ? hash_part(&s, phi3_source_path(src), fmt_gguf_data_offset(g), UINT64_MAX, err, errlen) ||
                     hash_samples(&s, phi3_source_path(src), fmt_gguf_data_offset(g), err, errlen)
               : hash_hf(src, &s, err, errlen);
    if (rc) return -1;
    util_sha256_final(&s, out);
    weights_dtype(src, weight_type);
    return 0;
}

int judge_provenance_hash_file(const char *path, int also_config, char out[65], char *err, size_t errlen) {
    util_sha256 s;
    util_sha256_init(&s);
    if (hash_part(&s, path, UINT64_MAX, 1ull << 30, err, errlen)) return -1;
    if (also_config) {
        char cfg[4200];
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int)(slash - path) : 1;
        snprintf(cfg, sizeof cfg, "%.*s/tokenizer_config.json", dir_len, slash ? path : ".");
        if (fmt_is_file(cfg)) {
            util_sha256_update(&s, "tokenizer_config.json", 22);
            if (hash_part(&s, cfg, UINT64_MAX, CONFIG_MAX, err, errlen)) return -1;
        }
    }
    util_sha256_final(&s, out);
    return 0;
}
