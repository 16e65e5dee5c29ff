/* Offline resolution of a repo id to a snapshot folder in the Hugging Face
 * cache, with an error that says how to fetch what is missing (and, when a
 * probe is allowed, how much that would download: a dry-run hub_pull). */
#include "hub/hub.h"
#include "hub/internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

