/* hub/hub.h: Hugging Face repo ids, the local Hugging Face cache, and `phi3vk pull`.
 *
 * phi3vk reads and writes the cache layout that huggingface_hub,
 * `huggingface-cli download` and transformers share, so a model fetched by
 * either side is found by the other:
 *
 *   <cache>/models--<owner>--<name>/
 *     refs/<revision>            text file: the 40-hex commit sha the branch/tag points to
 *     blobs/<etag>               file contents, named by the Hub's ETag without quotes:
 *                                the sha256 for LFS files, the git blob sha1 otherwise
 *     blobs/<etag>.incomplete    a download in progress (resumed with an HTTP Range request)
 *     snapshots/<sha>/<file>     relative symlink to ../../blobs/<etag>
 *
 * <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
 * else ~/.cache/huggingface/hub (the order huggingface_hub uses).
 *
 * All functions return 0 (or a pointer) on success and -1 (or NULL) on failure
 * with a message in err (errlen bytes, always NUL-terminated when errlen > 0). */
#ifndef PHI3VK_HUB_HUB_H
#define PHI3VK_HUB_HUB_H
#include <stddef.h>
#include <stdint.h>

#define HUB_OWNER_MAX 96  /* characters in an owner (namespace) */
#define HUB_NAME_MAX 96   /* characters in a repository name */
#define HUB_REV_MAX 255   /* characters in a revision */
#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_DEFAULT_MAX_FILE 50000000000ull /* 50 GB: the Hub's largest LFS files */
#define HUB_DEFAULT_DEADLINE_S 86400        /* a day: the judge's 15.3 GB at 0.2 MB/s */
#define HUB_TOKEN_MAX 4095                  /* bytes of an access token (the Hub's are ~40) */
#define HUB_SPACE_MARGIN 100000000ull       /* bytes a pull leaves free on the cache's file system */

/* A parsed "owner/name[@revision]". */
typedef struct hub_repo_id {
    char owner[HUB_OWNER_MAX + 1];  /* [A-Za-z0-9._-], no "--" or "..", not starting/ending in '.' or '-' */
    char name[HUB_NAME_MAX + 1];    /* same rules as owner */
    char revision[HUB_REV_MAX + 1]; /* branch, tag or 40-hex commit sha; "main" when not given */
    int has_revision;               /* 1 if the spec had "@revision" */
} hub_repo_id;

/* Parses "owner/name" or "owner/name@revision" into out. Revisions may hold
 * [A-Za-z0-9._/-] ("refs/pr/1") but no "..", "//", leading or trailing '/'.
 * Fails (naming the bad character and its position) on anything else; out
 * is then zeroed. */
int hub_parse_repo_id(const char *spec, hub_repo_id *out, char *err, size_t errlen);

/* 1 if rev is exactly 40 lowercase hex digits (a commit sha), else 0. */
int hub_is_commit_sha(const char *rev);

/* Writes the cache root (see the top of this file) into out. Fails when the
 * path does not fit or when neither an HF_* variable nor HOME is set.
 * The folder need not exist. */
int hub_cache_dir(char *out, size_t len, char *err, size_t errlen);

/* Writes "<cache_dir>/models--<owner>--<name>" into out (cache_dir NULL:
 * hub_cache_dir()). Fails only when the path does not fit. */
int hub_repo_dir(const char *cache_dir, const hub_repo_id *id, char *out, size_t len, char *err,
                 size_t errlen);

/* The Hub's base URL: $HF_ENDPOINT without trailing '/', else
 * HUB_DEFAULT_ENDPOINT. Writes it into out; fails if it does not fit or is
 * not an http:// or https:// URL. */
int hub_endpoint(char *out, size_t len, char *err, size_t errlen);

typedef struct hub_resolve_opts {
    const char *cache_dir;  /* NULL: hub_cache_dir() */
    const char *endpoint;   /* NULL: hub_endpoint(); only used by probe_timeout_s */
    int probe_timeout_s;    /* when the model is missing: > 0 asks the Hub (for at most this many
                             * seconds, never when $HF_HUB_OFFLINE=1) how much `phi3vk pull`
                             * would download, to put it in the error; 0 stays offline */
} hub_resolve_opts;

/* Finds a repo id ("owner/name[@revision]") in the cache, offline: a 40-hex
 * revision names snapshots/<sha> directly, any other is read from
 * refs/<revision>. Writes the snapshot folder (<repo dir>/snapshots/<sha>)
 * into out_path. Fails when the ref or snapshot is missing, or when the
 * snapshot is visibly incomplete (a dangling symlink, or a shard listed in
 * model.safetensors.index.json that is absent); the error then names the
 * cache path looked at and the command that fetches the model
 * (`phi3vk pull owner/name[@revision]`), and says that the download size is
 * unknown offline. hub_resolve() is hub_resolve_ex() with default options. */
int hub_resolve(const char *repo_spec, char *out_path, size_t len, char *err, size_t errlen);
/* As hub_resolve(); opts may be NULL. With opts->probe_timeout_s > 0 a miss
 * asks the Hub for the file list and says in the error how many bytes the
 * pull would download, or why that could not be found out. */
int hub_resolve_ex(const char *repo_spec, const hub_resolve_opts *opts, char *out_path, size_t len,
                   char *err, size_t errlen);

/* The repo a cache snapshot folder belongs to: for a path ending in
 * models--<owner>--<name>/snapshots/<40-hex sha> (trailing '/' allowed)
 * writes "owner/name" into out and returns 0; returns -1 for any other path
 * (or when out is too small). No file is touched. */
int hub_repo_of_snapshot(const char *path, char *out, size_t len);

/* Models that ship without a tokenizer take it from another repo: returns
 * that repo id for repo ("owner/name[@rev]"; the revision is ignored), or
 * NULL when repo carries its own. The toxicity judge
 * grounded-ai/phi3-toxicity-judge-merge maps to
 * microsoft/Phi-3-mini-4k-instruct, the model it was fine-tuned from.
 * The returned string is static. */
const char *hub_default_tokenizer_repo(const char *repo);

/* ---- the Hub's file list: GET {endpoint}/api/models/{owner}/{name}/revision/{rev}?blobs=true ---- */

/* One file of a repo revision, from the "siblings" array. */
typedef struct hub_file {
    char *name;        /* repo-relative path ("rfilename"), owned; never absolute, no "." or ".." parts */
    uint64_t size;     /* bytes of the real content (lfs.size for LFS files) */
    int size_known;    /* 0 when the Hub did not report a size (no ?blobs=true support) */
    char etag[129];    /* expected blob name: lfs.sha256 for LFS files, else blobId; "" if not reported */
    char sha256[65];   /* LFS files: content sha256 (64 hex); "" otherwise */
} hub_file;

typedef struct hub_revision_info {
    char sha[41];      /* commit the revision points to (40 hex) */
    hub_file *files;   /* n_files entries, owned */
    int n_files;
} hub_revision_info;

/* Parses the JSON body of the revision API (len bytes, need not be
 * NUL-terminated). what names the source in errors (the URL). Fails on bad
 * JSON, a missing/invalid "sha", a sibling without "rfilename", an unsafe
 * file name (absolute, "..", backslash, control bytes) or an invalid
 * blobId/sha256. On failure out is empty and needs no free. */
int hub_parse_revision_info(const char *json, size_t len, const char *what, hub_revision_info *out,
                            char *err, size_t errlen);
/* Frees what hub_parse_revision_info() allocated; accepts a zeroed struct. */
void hub_revision_info_free(hub_revision_info *info);

/* 1 if file name is one `phi3vk pull` fetches. include: NULL-terminated list
 * of glob patterns (fnmatch(3) without FNM_PATHNAME, so '*' also matches '/',
 * as in huggingface_hub's allow_patterns); NULL or empty selects the files a
 * model needs at the repo's top level: config.json, generation_config.json,
 * *.safetensors, model.safetensors.index.json, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json. */
int hub_file_selected(const char *name, const char *const *include);

/* Writes n as a short human size ("512 B", "3.4 MB", "7.64 GB"; powers of 1000). */
void hub_format_bytes(uint64_t n, char *out, size_t len);

/* ---- pull ---- */

typedef enum hub_event {
    HUB_EV_FILE_START,    /* about to download (or resume) file */
    HUB_EV_FILE_PROGRESS, /* bytes arrived (at most every ~100 ms per file) */
    HUB_EV_FILE_DONE,     /* verified and linked into the snapshot */
    HUB_EV_FILE_CACHED,   /* already complete in the cache: linked, nothing downloaded */
    HUB_EV_FILE_RETRY,    /* the transfer broke; retrying from where it stopped */
} hub_event;

/* What a progress callback is told. Byte counts are of file contents. */
typedef struct hub_progress {
    hub_event event;
    const char *file;      /* repo-relative name */
    int file_index;        /* 0-based among the selected files */
    int n_files;           /* files selected */
    uint64_t file_done;    /* bytes of this file on disk, resumed part included */
    uint64_t file_size;    /* expected bytes; 0 if unknown */
    uint64_t total_done;   /* bytes of all selected files on disk */
    uint64_t total_size;   /* sum of the expected sizes (unknown sizes count 0) */
    uint64_t downloaded;   /* bytes received over the network by this pull */
    const char *message;   /* HUB_EV_FILE_RETRY: why the transfer broke; else NULL */
} hub_progress;

typedef void (*hub_progress_fn)(void *user, const hub_progress *p);

typedef struct hub_pull_opts {
    const char *repo;             /* "owner/name[@revision]" (required) */
    const char *revision;         /* non-NULL: overrides the spec's @revision */
    const char *const *include;   /* NULL-terminated glob patterns, see hub_file_selected(); NULL: model files */
    const char *cache_dir;        /* NULL: hub_cache_dir() */
    const char *endpoint;         /* NULL: hub_endpoint() ($HF_ENDPOINT) */
    const char *token;            /* NULL: $HF_TOKEN, else the file $HF_TOKEN_PATH or <HF_HOME>/token
                                   * that `huggingface-cli login` writes; "": send none */
    int retries;                  /* resumed re-tries per file after a broken transfer; < 0: 3 */
    int timeout_s;                /* connect timeout, and abort when < 1 byte/s arrives for this
                                   * long; 0: 30 */
    uint64_t max_file_bytes;      /* a file listed larger is refused, and one whose size the Hub
                                   * does not give is cut off at this size; 0: HUB_DEFAULT_MAX_FILE */
    int deadline_s;               /* the whole pull ends within this many seconds, whatever the
                                   * server sends; 0: HUB_DEFAULT_DEADLINE_S */
    int dry_run;                  /* 1: list and size the files, download nothing, write nothing */
    hub_progress_fn progress;     /* optional */
    void *progress_user;          /* passed to progress */
} hub_pull_opts;

typedef struct hub_pull_result {
    char snapshot[4096];          /* the snapshots/<sha> folder (what hub_resolve() returns) */
    char sha[41];                 /* the commit pulled */
    int n_files;                  /* files selected */
    int n_cached;                 /* of those, already complete in the cache */
    uint64_t total_bytes;         /* sum of the selected files' sizes */
    uint64_t need_bytes;          /* bytes not yet complete in the cache when the pull began
                                   * (dry_run: what a real pull would download) */
    uint64_t downloaded_bytes;    /* bytes received over the network */
} hub_pull_result;

/* Downloads a repo revision into the cache:
 *  1. GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true for the
 *     commit sha and the file list; selects files with hub_file_selected().
 *     Before downloading anything, checks that the bytes still missing fit
 *     the cache's file system (statvfs, HUB_SPACE_MARGIN kept free); the
 *     error says how much is needed and free.
 *  2. For each file not already complete in blobs/: GET
 *     {endpoint}/{repo}/resolve/{sha}/{file} (following redirects), into
 *     blobs/<etag>.incomplete, resuming an existing one with a Range request;
 *     checks the ETag / X-Linked-Etag headers against the listing, the size,
 *     and for LFS files the sha256; only then renames it to blobs/<etag>. A
 *     sha256 mismatch removes the .incomplete file.
 *  3. Links snapshots/<sha>/<file> -> ../../blobs/<etag> (relative), and
 *     finally writes refs/<rev> (unless rev is the sha itself), so an
 *     interrupted pull never leaves a ref to a half-filled snapshot.
 * Sends "Authorization: Bearer <token>" when a token is found (curl drops it
 * on redirects to other hosts). res may be NULL. Fails naming the repo on
 * 401/404 ("not found, or private/gated without a token"), the file and URL
 * on transfer or verification errors. */
int hub_pull(const hub_pull_opts *opts, hub_pull_result *res, char *err, size_t errlen);

#endif
