/* hub/ basics the downloader and the resolver share: repo ids, the cache
 * root and folders, the endpoint, error formatting, which files a model
 * needs, byte counts for people. */
#include "hub/hub.h"
#include "hub/internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void hub_set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int hub_join(char *out, size_t len, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        hub_set_err(err, errlen, "path too long (%d bytes, room for %zu): %.200s...", n, len ? len - 1 : 0,
                    out);
        if (len) out[0] = 0;
        return -1;
    }
    return 0;
}

int hub_env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

/* ---- repo ids ---- */

static int id_char(int c) { return c < 128 && (isalnum(c) || c == '.' || c == '_' || c == '-'); }

/* Checks one owner or name part (n bytes at s) against the Hub's rules. */
static int check_part(const char *spec, const char *what, const char *s, size_t n, size_t max, char *err,
                      size_t errlen) {
    if (n == 0) {
        hub_set_err(err, errlen, "repo id '%s': empty %s (expected owner/name[@revision])", spec, what);
        return -1;
    }
    if (n > max) {
        hub_set_err(err, errlen, "repo id '%s': %s is %zu characters, at most %zu allowed", spec, what, n, max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!id_char(c)) {
            if (c >= 0x20 && c < 0x7f)
                hub_set_err(err, errlen,
                            "repo id '%s': invalid character '%c' at position %zu in the %s "
                            "(allowed: letters, digits, '.', '_', '-')",
                            spec, c, (size_t)(s - spec) + i + 1, what);
            else
                hub_set_err(err, errlen,
                            "repo id: invalid byte 0x%02x at position %zu in the %s "
                            "(allowed: letters, digits, '.', '_', '-')",
                            c, (size_t)(s - spec) + i + 1, what);
            return -1;
        }
    }
    if (!isalnum((unsigned char)s[0]) && s[0] != '_') {
        hub_set_err(err, errlen, "repo id '%s': the %s starts with '%c' (must start with a letter or digit)", spec,
                    what, s[0]);
        return -1;
    }
    if (!isalnum((unsigned char)s[n - 1]) && s[n - 1] != '_') {
        hub_set_err(err, errlen, "repo id '%s': the %s ends with '%c' (must end with a letter or digit)", spec,
                    what, s[n - 1]);
        return -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        /* "--" separates owner and name in cache folder names, so the Hub forbids it. */
        if ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.')) {
            hub_set_err(err, errlen, "repo id '%s': the %s contains '%c%c' (not allowed in Hub repo ids)", spec,
                        what, s[i], s[i + 1]);
            return -1;
        }
    }
    if (n >= 4 && !memcmp(s + n - 4, ".git", 4)) {
        hub_set_err(err, errlen, "repo id '%s': the %s ends with '.git' (not allowed in Hub repo ids)", spec, what);
        return -1;
    }
    return 0;
}

static int check_revision(const char *spec, const char *rev, char *err, size_t errlen) {
    size_t n = strlen(rev);
    if (n == 0) {
        hub_set_err(err, errlen, "repo id '%s': empty revision after '@'", spec);
        return -1;
    }
    if (n > HUB_REV_MAX) {
        hub_set_err(err, errlen, "repo id: revision is %zu characters, at most %d allowed", n, HUB_REV_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rev[i];
        if (!(id_char(c) || c == '/' || c == '+')) {
            if (c >= 0x20 && c < 0x7f)
                hub_set_err(err, errlen,
                            "repo id '%s': invalid character '%c' in revision '%s' "
                            "(allowed: letters, digits, '.', '_', '-', '+', '/')",
                            spec, c, rev);
            else
                hub_set_err(err, errlen, "repo id: invalid byte 0x%02x in the revision", c);
            return -1;
        }
    }
    /* The revision becomes a path under refs/: no empty, hidden, "." or ".." parts. */
    if (rev[0] == '/' || rev[n - 1] == '/' || strstr(rev, "//") || strstr(rev, "..") || rev[0] == '.' ||
        strstr(rev, "/.")) {
        hub_set_err(err, errlen,
                    "repo id '%s': revision '%s' has an empty or hidden path part "
                    "(no leading/trailing '/', '//', '..' or parts starting with '.')",
                    spec, rev);
        return -1;
    }
    return 0;
}

int hub_parse_repo_id(const char *spec, hub_repo_id *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!spec || !spec[0]) {
        hub_set_err(err, errlen, "repo id is empty (expected owner/name[@revision])");
        return -1;
    }
    const char *at = strchr(spec, '@');
    size_t idlen = at ? (size_t)(at - spec) : strlen(spec);
    const char *slash = memchr(spec, '/', idlen);
    if (!slash) {
        hub_set_err(err, errlen, "repo id '%s': expected owner/name[@revision] (no '/' found)", spec);
        return -1;
    }
    if (memchr(slash + 1, '/', idlen - (size_t)(slash + 1 - spec))) {
        hub_set_err(err, errlen, "repo id '%s': expected owner/name[@revision], found more than one '/'", spec);
        return -1;
    }
    size_t nowner = (size_t)(slash - spec), nname = idlen - nowner - 1;
    if (check_part(spec, "owner", spec, nowner, HUB_OWNER_MAX, err, errlen) ||
        check_part(spec, "name", slash + 1, nname, HUB_NAME_MAX, err, errlen))
        return -1;
    if (at && check_revision(spec, at + 1, err, errlen)) return -1;
    memcpy(out->owner, spec, nowner);
    memcpy(out->name, slash + 1, nname);
    if (at) {
        strcpy(out->revision, at + 1); /* length checked above */
        out->has_revision = 1;
    } else {
        strcpy(out->revision, "main");
    }
    return 0;
}

int hub_is_commit_sha(const char *rev) {
    if (!rev) return 0;
    size_t i = 0;
    for (; rev[i]; i++)
        if (!((rev[i] >= '0' && rev[i] <= '9') || (rev[i] >= 'a' && rev[i] <= 'f'))) return 0;
    return i == 40;
}

/* ---- cache paths ---- */

/* Copies an environment path into out, expanding a leading "~" like Python's expanduser. */
static int env_path(const char *val, const char *suffix, char *out, size_t len, char *err, size_t errlen) {
    if (val[0] == '~' && (val[1] == '/' || val[1] == 0)) {
        const char *home = getenv("HOME");
        if (!home || !home[0]) {
            hub_set_err(err, errlen, "cannot expand '~' in '%s': HOME is not set", val);
            return -1;
        }
        return hub_join(out, len, err, errlen, "%s%s%s", home, val + 1, suffix);
    }
    return hub_join(out, len, err, errlen, "%s%s", val, suffix);
}

static const char *nonempty_env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

int hub_cache_dir(char *out, size_t len, char *err, size_t errlen) {
    const char *v;
    if ((v = nonempty_env("HF_HUB_CACHE"))) return env_path(v, "", out, len, err, errlen);
    if ((v = nonempty_env("HUGGINGFACE_HUB_CACHE"))) return env_path(v, "", out, len, err, errlen);
    if ((v = nonempty_env("HF_HOME"))) return env_path(v, "/hub", out, len, err, errlen);
    if ((v = nonempty_env("XDG_CACHE_HOME"))) return env_path(v, "/huggingface/hub", out, len, err, errlen);
    if ((v = nonempty_env("HOME"))) return env_path(v, "/.cache/huggingface/hub", out, len, err, errlen);
    hub_set_err(err, errlen,
                "cannot find the Hugging Face cache: none of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME is set");
    return -1;
}

int hub_home_dir(char *out, size_t len, char *err, size_t errlen) {
    const char *v;
    if ((v = nonempty_env("HF_HOME"))) return env_path(v, "", out, len, err, errlen);
    if ((v = nonempty_env("XDG_CACHE_HOME"))) return env_path(v, "/huggingface", out, len, err, errlen);
    if ((v = nonempty_env("HOME"))) return env_path(v, "/.cache/huggingface", out, len, err, errlen);
    hub_set_err(err, errlen, "cannot find the Hugging Face home: none of HF_HOME, XDG_CACHE_HOME, HOME is set");
    return -1;
}

int hub_repo_dir(const char *cache_dir, const hub_repo_id *id, char *out, size_t len, char *err,
                 size_t errlen) {
    char root[4096];
    if (!cache_dir) {
        if (hub_cache_dir(root, sizeof root, err, errlen)) return -1;
        cache_dir = root;
    }
    return hub_join(out, len, err, errlen, "%s/models--%s--%s", cache_dir, id->owner, id->name);
}

int hub_endpoint(char *out, size_t len, char *err, size_t errlen) {
    const char *v = nonempty_env("HF_ENDPOINT");
    if (!v) v = HUB_DEFAULT_ENDPOINT;
    if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
        hub_set_err(err, errlen, "HF_ENDPOINT '%.200s': expected an http:// or https:// URL", v);
        return -1;
    }
    if (hub_join(out, len, err, errlen, "%s", v)) return -1;
    for (size_t n = strlen(out); n > 0 && out[n - 1] == '/'; n--) out[n - 1] = 0;
    return 0;
}

int hub_repo_of_snapshot(const char *path, char *out, size_t len) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    const char *parts[3];
    size_t lens[3];
    for (int k = 0; k < 3; k++) { /* the last three components, last first */
        size_t start = end;
        while (start > 0 && path[start - 1] != '/') start--;
        parts[k] = path + start, lens[k] = end - start;
        if (start == 0 && k < 2) return -1;
        end = start ? start - 1 : 0;
        while (end > 1 && path[end - 1] == '/') end--;
    }
    char sha[41], repo[HUB_OWNER_MAX + HUB_NAME_MAX + 16];
    if (lens[0] != 40 || lens[1] != 9 || strncmp(parts[1], "snapshots", 9) || lens[2] < 12 ||
        lens[2] >= sizeof repo || strncmp(parts[2], "models--", 8))
        return -1;
    memcpy(sha, parts[0], 40);
    sha[40] = 0;
    if (!hub_is_commit_sha(sha)) return -1;
    /* owner and name cannot hold "--" (hub_parse_repo_id), so the first one after "models--" splits them */
    memcpy(repo, parts[2] + 8, lens[2] - 8);
    repo[lens[2] - 8] = 0;
    char *sep = strstr(repo, "--");
    if (!sep) return -1;
    *sep = '/';
    memmove(sep + 1, sep + 2, strlen(sep + 2) + 1);
    hub_repo_id id;
    if (hub_parse_repo_id(repo, &id, NULL, 0) || id.has_revision) return -1;
    if (snprintf(out, len, "%s", repo) >= (int)len) return -1;
    return 0;
}

const char *hub_default_tokenizer_repo(const char *repo) {
    static const struct {
        const char *model, *tokenizer;
    } map[] = {
        {"grounded-ai/phi3-toxicity-judge-merge", "microsoft/Phi-3-mini-4k-instruct"},
    };
    if (!repo) return NULL;
    size_t n = strcspn(repo, "@");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].model) == n && !strncmp(repo, map[i].model, n)) return map[i].tokenizer;
    return NULL;
}

/* ---- which files a model needs ---- */

int hub_file_selected(const char *name, const char *const *include) {
    if (include && include[0]) {
        for (int i = 0; include[i]; i++)
            if (fnmatch(include[i], name, 0) == 0) return 1;
        return 0;
    }
    static const char *const model_files[] = {
        "config.json",    "generation_config.json", "*.safetensors",           "model.safetensors.index.json",
        "tokenizer.json", "tokenizer_config.json",  "special_tokens_map.json",
    };
    if (strchr(name, '/')) return 0; /* top level only: skips onnx/, gguf/ and other variants */
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++)
        if (fnmatch(model_files[i], name, 0) == 0) return 1;
    return 0;
}

void hub_format_bytes(uint64_t n, char *out, size_t len) {
    if (n < 1000) snprintf(out, len, "%llu B", (unsigned long long)n);
    else if (n < 1000000) snprintf(out, len, "%.1f kB", n / 1e3);
    else if (n < 1000000000) snprintf(out, len, "%.1f MB", n / 1e6);
    else snprintf(out, len, "%.2f GB", n / 1e9);
}
