/* The Hub's revision API body: {"sha": "...", "siblings": [{"rfilename", "size", "blobId", "lfs"}]}.
 * The body comes from the network, so every field is checked before it names a file on disk. */
#include "hub/hub.h"
#include "hub/internal.h"
#include "util/utf8.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 1024 /* longest repo file name accepted */


/* Why name is unsafe as a path below snapshots/<sha>/, or NULL when it is fine. */
static const char *unsafe_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0) return "empty";
    if (n > NAME_MAX_BYTES) return "longer than 1024 bytes";
    if (name[0] == '/') return "absolute";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) return "has a control character";
        if (c == '\\') return "has a backslash";
    }
    if (!util_utf8_valid(name, n)) return "is not valid UTF-8";
    for (const char *p = name;;) {
        size_t k = strcspn(p, "/");
        if (k == 0) return "has an empty path part";
        if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.')) return "has a '.' or '..' part";
        if (!p[k]) break;
        p += k + 1;
    }
    return NULL;
}

int hub_etag_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) && (unsigned char)s[i] < 128) && s[i] != '.' && s[i] != '_' &&
            s[i] != '-')
            return 0;
    return 1;
}

static int hex_ok(const char *s, size_t want) {
    size_t n = strlen(s);
    if (n != want) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* Reads a JSON number that must be a whole byte count (>= 0, exact in a double). */
static int read_size(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_sibling(const cJSON *s, int i, const char *what, hub_file *f, char *err, size_t errlen) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "rfilename"));
    if (!cJSON_IsObject(s) || !name) {
        hub_set_err(err, errlen, "%s: siblings[%d]: expected an object with a string \"rfilename\"", what, i);
        return -1;
    }
    const char *why = unsafe_name(name);
    if (why) {
        hub_set_err(err, errlen, "%s: siblings[%d].rfilename '%.200s' is not a safe relative path (%s)", what, i,
                    name, why);
        return -1;
    }
    f->name = malloc(strlen(name) + 1);
    if (!f->name) {
        hub_set_err(err, errlen, "out of memory");
        return -1;
    }
    strcpy(f->name, name);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(s, "size");
    if (size && read_size(size, &f->size) != 0) {
        hub_set_err(err, errlen, "%s: %s: \"size\" is not a byte count", what, name);
        return -1;
    }
    f->size_known = size != NULL;
    const cJSON *blob = cJSON_GetObjectItemCaseSensitive(s, "blobId");
    if (blob) {
        const char *b = cJSON_GetStringValue(blob);
        if (!b || !hub_etag_ok(b)) {
            hub_set_err(err, errlen, "%s: %s: \"blobId\" is not a blob id ([A-Za-z0-9._-], 1-128 chars)", what,
                        name);
            return -1;
        }
        strcpy(f->etag, b);
    }
    const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(s, "lfs");
    if (lfs && !cJSON_IsNull(lfs)) {
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(lfs, "sha256");
        if (!sha) sha = cJSON_GetObjectItemCaseSensitive(lfs, "oid");
        const char *h = cJSON_GetStringValue(sha);
        if (!cJSON_IsObject(lfs) || !h || !hex_ok(h, 64)) {
            hub_set_err(err, errlen, "%s: %s: \"lfs\" needs a \"sha256\" of 64 hex digits", what, name);
            return -1;
        }
        for (int k = 0; k < 64; k++) f->sha256[k] = (char)tolower((unsigned char)h[k]);
        strcpy(f->etag, f->sha256); /* the Hub names LFS blobs by their sha256 (X-Linked-Etag) */
        const cJSON *lsize = cJSON_GetObjectItemCaseSensitive(lfs, "size");
        if (lsize) {
            if (read_size(lsize, &f->size) != 0) {
                hub_set_err(err, errlen, "%s: %s: \"lfs.size\" is not a byte count", what, name);
                return -1;
            }
            f->size_known = 1;
        }
    }
    return 0;
}

int hub_parse_revision_info(const char *json, size_t len, const char *what, hub_revision_info *out, char *err,
                            size_t errlen) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        hub_set_err(err, errlen, "%s: expected a JSON object, got %s", what, root ? "another JSON value" : "bad JSON");
        cJSON_Delete(root);
        return -1;
    }
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "sha"));
    if (!sha || !hub_is_commit_sha(sha)) {
        hub_set_err(err, errlen, "%s: \"sha\": expected a 40-hex commit id, got %s%.60s%s", what, sha ? "'" : "",
                    sha ? sha : "none", sha ? "'" : "");
        goto fail;
    }
    memcpy(out->sha, sha, 41);
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(root, "siblings");
    if (!cJSON_IsArray(sib)) {
        hub_set_err(err, errlen, "%s: expected a \"siblings\" array listing the files", what);
        goto fail;
    }
    int n = cJSON_GetArraySize(sib);
    out->files = calloc(n > 0 ? (size_t)n : 1, sizeof *out->files);
    if (!out->files) {
        hub_set_err(err, errlen, "out of memory");
        goto fail;
    }
    const cJSON *s;
    int i = 0;
    cJSON_ArrayForEach(s, sib) {
        out->n_files = i + 1;
        if (parse_sibling(s, i, what, &out->files[i], err, errlen)) goto fail;
        i++;
    }
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    hub_revision_info_free(out);
    return -1;
}

void hub_revision_info_free(hub_revision_info *info) {
    if (!info) return;
    for (int i = 0; i < info->n_files; i++) free(info->files[i].name);
    free(info->files);
    memset(info, 0, sizeof *info);
}
