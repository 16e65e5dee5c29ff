/* Repo ids, the cache root, and offline resolution of a repo id to a snapshot folder. */
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

/* ---- resolution ---- */

/* Reads refs/<rev> (a 40-hex sha, maybe followed by whitespace) into sha. */
static int read_ref(const char *path, char sha[41]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
    if (!hub_is_commit_sha(buf)) return -2;
    memcpy(sha, buf, 41);
    return 0;
}

/* Looks for the visible signs of an interrupted download in snapshot folder dir:
 * a dangling symlink, or a shard named in model.safetensors.index.json that is
 * missing. Fills what with the first problem; returns 0 when none. */
static int snapshot_incomplete(const char *dir, char *what, size_t whatlen) {
    DIR *d = opendir(dir);
    if (!d) {
        hub_set_err(what, whatlen, "cannot open %s: %s", dir, strerror(errno));
        return 1;
    }
    int bad = 0, n_entries = 0;
    char path[4608];
    struct dirent *e;
    while (!bad && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        n_entries++;
        struct stat st;
        if (hub_join(path, sizeof path, what, whatlen, "%s/%s", dir, e->d_name) || stat(path, &st) != 0) {
            hub_set_err(what, whatlen, "%s points to a missing blob", path);
            bad = 1;
        }
    }
    closedir(d);
    if (bad) return 1;
    if (n_entries == 0) {
        hub_set_err(what, whatlen, "snapshot folder %s is empty", dir);
        return 1;
    }
    /* The shard list: a sharded model is only usable with all of its shards. */
    if (hub_join(path, sizeof path, what, whatlen, "%s/model.safetensors.index.json", dir)) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (64l << 20) && fseek(f, 0, SEEK_SET) == 0)
        text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) == (size_t)size) text[size] = 0;
    else {
        free(text);
        text = NULL;
    }
    fclose(f);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        hub_set_err(what, whatlen, "%s has no \"weight_map\" object", path);
        cJSON_Delete(root);
        return 1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, map) {
        const char *shard = cJSON_GetStringValue(it);
        struct stat st;
        if (!shard || strstr(shard, "..") || shard[0] == '/') continue; /* the loader reports these */
        if (hub_join(path, sizeof path, what, whatlen, "%s/%s", dir, shard) || stat(path, &st) != 0) {
            hub_set_err(what, whatlen, "shard %s (listed in model.safetensors.index.json) is missing", shard);
            bad = 1;
            break;
        }
    }
    cJSON_Delete(root);
    return bad;
}

/* Writes the "how to fetch it" part of a resolution error into out. */
static void fetch_advice(const hub_repo_id *id, const hub_resolve_opts *opts, char *out, size_t len) {
    char cmd[512];
    hub_set_err(cmd, sizeof cmd, "phi3vk pull %s/%s%s%s", id->owner, id->name, id->has_revision ? "@" : "",
             id->has_revision ? id->revision : "");
    if (!opts || opts->probe_timeout_s <= 0) {
        hub_set_err(out, len, "fetch it with: %s (download size unknown offline)", cmd);
        return;
    }
    if (hub_env_true("HF_HUB_OFFLINE")) {
        hub_set_err(out, len, "fetch it with: %s (download size unknown: HF_HUB_OFFLINE is set)", cmd);
        return;
    }
    hub_pull_opts p = {
        .repo = cmd + strlen("phi3vk pull "),
        .cache_dir = opts->cache_dir,
        .endpoint = opts->endpoint,
        .timeout_s = opts->probe_timeout_s,
        .dry_run = 1,
    };
    hub_pull_result r;
    char perr[512];
    if (hub_pull(&p, &r, perr, sizeof perr) == 0) {
        char sz[32];
        hub_format_bytes(r.need_bytes, sz, sizeof sz);
        hub_set_err(out, len, "fetch it with: %s (downloads %s in %d file%s)", cmd, sz, r.n_files - r.n_cached,
                 r.n_files - r.n_cached == 1 ? "" : "s");
    } else {
        hub_set_err(out, len, "fetch it with: %s (download size unknown: %s)", cmd, perr);
    }
}

int hub_resolve_ex(const char *repo_spec, const hub_resolve_opts *opts, char *out_path, size_t len, char *err,
                   size_t errlen) {
    hub_repo_id id;
    char repo[4096], ref[4608], snap[4608], advice[1024], what[1024];
    if (out_path && len) out_path[0] = 0;
    if (hub_parse_repo_id(repo_spec, &id, err, errlen)) return -1;
    if (hub_repo_dir(opts ? opts->cache_dir : NULL, &id, repo, sizeof repo, err, errlen)) return -1;
    char sha[41];
    if (hub_is_commit_sha(id.revision)) {
        memcpy(sha, id.revision, 41);
    } else {
        if (hub_join(ref, sizeof ref, err, errlen, "%s/refs/%s", repo, id.revision)) return -1;
        int rc = read_ref(ref, sha);
        if (rc) {
            fetch_advice(&id, opts, advice, sizeof advice);
            if (rc == -1)
                hub_set_err(err, errlen, "model %s/%s@%s is not in the Hugging Face cache (no %s); %s", id.owner,
                            id.name, id.revision, ref, advice);
            else
                hub_set_err(err, errlen, "%s: expected a 40-hex commit sha; %s", ref, advice);
            return -1;
        }
    }
    if (hub_join(snap, sizeof snap, err, errlen, "%s/snapshots/%s", repo, sha)) return -1;
    struct stat st;
    if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fetch_advice(&id, opts, advice, sizeof advice);
        hub_set_err(err, errlen, "model %s/%s@%s is not in the Hugging Face cache (no folder %s); %s", id.owner,
                    id.name, id.revision, snap, advice);
        return -1;
    }
    if (snapshot_incomplete(snap, what, sizeof what)) {
        fetch_advice(&id, opts, advice, sizeof advice);
        hub_set_err(err, errlen, "model %s/%s@%s is only partly in the Hugging Face cache: %s; %s", id.owner,
                    id.name, id.revision, what, advice);
        return -1;
    }
    if (!out_path || hub_join(out_path, len, err, errlen, "%s", snap)) return -1;
    return 0;
}

int hub_resolve(const char *repo_spec, char *out_path, size_t len, char *err, size_t errlen) {
    return hub_resolve_ex(repo_spec, NULL, out_path, len, err, errlen);
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
