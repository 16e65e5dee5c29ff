/* hub/: repo-id parsing, cache paths, offline resolution on a fake cache tree, the
 * revision-API parser on hostile input, SHA-256 vectors, and (when python3 and
 * tests/hub_server.py are at hand) pulls from a local fake Hub on 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/check.h"
#include "hub/hub.h"
#include "util/sha256.h"

#define HAS(s, sub) (strstr((s), (sub)) != NULL)

static char tmp_root[256];

/* ---- small file helpers ---- */

static void write_file(const char *path, const char *text) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void make_link(const char *target, const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0 || symlink(target, path) != 0) {
        fprintf(stderr, "cannot link %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void rm_rf(const char *path) {
    char cmd[600];
    if (!path[0] || strncmp(path, "/tmp/", 5)) return; /* only ever our own mkdtemp folder */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

/* ---- SHA-256 ---- */

static void sha_hex(const void *data, size_t n, char out[65]) {
    util_sha256 s;
    util_sha256_init(&s);
    util_sha256_update(&s, data, n);
    util_sha256_final(&s, out);
}

static void test_sha256(void) {
    char h[65];
    sha_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", h);
    sha_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", h);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: padding spills */
    sha_hex(two, strlen(two), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "two blocks: %s", h);
    /* One million 'a', fed in uneven pieces: the split must not matter. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    util_sha256 s;
    util_sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < sizeof a) {
        size_t n = step < sizeof a - off ? step : sizeof a - off;
        util_sha256_update(&s, a + off, n);
        off += n;
        step = step * 7 % 1031 + 1;
    }
    util_sha256_final(&s, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "million a: %s", h);
}

/* ---- repo ids ---- */

static void test_parse(void) {
    hub_repo_id id;
    char err[512];
    CHECK(hub_parse_repo_id("grounded-ai/phi3-toxicity-judge-merge", &id, err, sizeof err) == 0, "%s", err);
    CHECK(!strcmp(id.owner, "grounded-ai") && !strcmp(id.name, "phi3-toxicity-judge-merge"), "%s/%s", id.owner,
          id.name);
    CHECK(!strcmp(id.revision, "main") && !id.has_revision, "rev %s", id.revision);
    CHECK(hub_parse_repo_id("microsoft/Phi-3-mini-4k-instruct@refs/pr/12", &id, err, sizeof err) == 0, "%s", err);
    CHECK(!strcmp(id.revision, "refs/pr/12") && id.has_revision, "rev %s", id.revision);
    CHECK(hub_parse_repo_id("a_b/c.d@v1.0+x", &id, err, sizeof err) == 0, "%s", err);
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    char spec[128];
    snprintf(spec, sizeof spec, "o/n@%s", sha);
    CHECK(hub_parse_repo_id(spec, &id, err, sizeof err) == 0 && hub_is_commit_sha(id.revision), "%s", err);

    static const struct {
        const char *spec, *msg; /* the error must contain msg */
    } bad[] = {
        {"", "empty"},
        {"noslash", "no '/'"},
        {"a/b/c", "more than one '/'"},
        {"/b", "empty owner"},
        {"a/", "empty name"},
        {"a b/c", "invalid character ' ' at position 2 in the owner"},
        {"ab/c;d", "invalid character ';' at position 5 in the name"},
        {"a/b\xc3\xa9", "invalid byte 0xc3 at position 4"},
        {"a/-b", "starts with '-'"},
        {"a/b.", "ends with '.'"},
        {"a--b/c", "contains '--'"},
        {"a/b..c", "contains '..'"},
        {"a/b.git", ".git"},
        {"a/b@", "empty revision"},
        {"a/b@x y", "invalid character ' ' in revision"},
        {"a/b@../x", "hidden path part"},
        {"a/b@x//y", "hidden path part"},
        {"a/b@/x", "hidden path part"},
        {"a/b@x/", "hidden path part"},
        {"a/b@.hidden", "hidden path part"},
        {"a/b@x/.y", "hidden path part"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = hub_parse_repo_id(bad[i].spec, &id, err, sizeof err);
        CHECK(rc == -1 && HAS(err, bad[i].msg), "'%s' -> rc %d, '%s' (want '%s')", bad[i].spec, rc, err, bad[i].msg);
        CHECK(id.owner[0] == 0 && id.name[0] == 0, "'%s': out not cleared", bad[i].spec);
    }
    char longname[200];
    memset(longname, 'x', sizeof longname);
    memcpy(longname, "o/", 2);
    longname[2 + HUB_NAME_MAX + 1] = 0; /* 97 characters */
    CHECK(hub_parse_repo_id(longname, &id, err, sizeof err) == -1 && HAS(err, "at most 96"), "%s", err);
    longname[2 + HUB_NAME_MAX] = 0;
    CHECK(hub_parse_repo_id(longname, &id, err, sizeof err) == 0, "96 chars: %s", err);
    CHECK(hub_parse_repo_id(NULL, &id, err, sizeof err) == -1, "NULL spec accepted");

    CHECK(hub_is_commit_sha(sha), "sha");
    CHECK(!hub_is_commit_sha("0123456789ABCDEF0123456789abcdef01234567"), "upper case is a branch name");
    CHECK(!hub_is_commit_sha("0123456789abcdef"), "short");
    CHECK(!hub_is_commit_sha("main") && !hub_is_commit_sha(NULL), "main/NULL");
}

/* ---- cache paths ---- */

static const char *const env_names[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                                        "HOME", "HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH"};
#define N_ENV (sizeof env_names / sizeof env_names[0])

static void set_env(const char *name, const char *value) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

static void clear_env(void) {
    for (size_t i = 0; i < N_ENV; i++) unsetenv(env_names[i]);
}

static void test_cache_dir(void) {
    char out[1024], err[512];
    clear_env();
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == -1 && HAS(err, "HOME"), "no env: %s", err);
    set_env("HOME", "/home/u");
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/home/u/.cache/huggingface/hub"),
          "HOME: %s", out);
    set_env("XDG_CACHE_HOME", "/xdg");
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/xdg/huggingface/hub"), "XDG: %s",
          out);
    set_env("HF_HOME", "~/hf");
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/home/u/hf/hub"), "HF_HOME ~: %s",
          out);
    set_env("HUGGINGFACE_HUB_CACHE", "/legacy");
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/legacy"), "legacy: %s", out);
    set_env("HF_HUB_CACHE", "/hubcache");
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/hubcache"), "HF_HUB_CACHE: %s",
          out);
    set_env("HF_HUB_CACHE", ""); /* empty counts as unset */
    CHECK(hub_cache_dir(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/legacy"), "empty: %s", out);
    char tiny[4];
    CHECK(hub_cache_dir(tiny, sizeof tiny, err, sizeof err) == -1 && HAS(err, "too long"), "short buffer: %s", err);

    hub_repo_id id;
    hub_parse_repo_id("grounded-ai/phi3-toxicity-judge-merge@v2", &id, err, sizeof err);
    CHECK(hub_repo_dir("/c", &id, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/c/models--grounded-ai--phi3-toxicity-judge-merge"),
          "repo dir: %s", out);
    CHECK(hub_repo_dir(NULL, &id, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/legacy/models--grounded-ai--phi3-toxicity-judge-merge"),
          "repo dir (env): %s", out);

    clear_env();
    CHECK(hub_endpoint(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "https://huggingface.co"), "%s", out);
    set_env("HF_ENDPOINT", "http://127.0.0.1:8080//");
    CHECK(hub_endpoint(out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "http://127.0.0.1:8080"), "%s", out);
    set_env("HF_ENDPOINT", "ftp://mirror");
    CHECK(hub_endpoint(out, sizeof out, err, sizeof err) == -1 && HAS(err, "ftp://mirror"), "%s", err);
    clear_env();
}

/* ---- resolution on a fake cache ---- */

#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"
#define SHA3 "3333333333333333333333333333333333333333"

static int resolve(const char *cache, const char *spec, char *out, size_t len, char *err, size_t errlen) {
    hub_resolve_opts o = {.cache_dir = cache};
    return hub_resolve_ex(spec, &o, out, len, err, errlen);
}

static void test_resolve(void) {
    char cache[512], p[1024], out[2048], err[1024], want[1024];
    snprintf(cache, sizeof cache, "%s/cache", tmp_root);
    const char *repo = "models--org--model";
    /* main -> SHA1: a complete snapshot (refs file with a trailing newline, as some tools write). */
    snprintf(p, sizeof p, "%s/%s/refs/main", cache, repo);
    write_file(p, SHA1 "\n");
    snprintf(p, sizeof p, "%s/%s/blobs/aaaa", cache, repo);
    write_file(p, "{}");
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/config.json", cache, repo);
    make_link("../../blobs/aaaa", p);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/sub/tokenizer.json", cache, repo);
    make_link("../../../blobs/aaaa", p);
    CHECK(resolve(cache, "org/model", out, sizeof out, err, sizeof err) == 0, "%s", err);
    snprintf(want, sizeof want, "%s/%s/snapshots/" SHA1, cache, repo);
    CHECK(!strcmp(out, want), "got %s want %s", out, want);

    /* A sha names the snapshot directly, with or without a ref. */
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA2 "/config.json", cache, repo);
    make_link("../../blobs/aaaa", p);
    CHECK(resolve(cache, "org/model@" SHA2, out, sizeof out, err, sizeof err) == 0 && HAS(out, SHA2), "%s", err);
    /* A nested ref (refs/pr/1). */
    snprintf(p, sizeof p, "%s/%s/refs/refs/pr/1", cache, repo);
    write_file(p, SHA2);
    CHECK(resolve(cache, "org/model@refs/pr/1", out, sizeof out, err, sizeof err) == 0 && HAS(out, SHA2), "%s", err);

    /* Missing: the error names the path looked at and the exact command. */
    CHECK(resolve(cache, "org/other", out, sizeof out, err, sizeof err) == -1, "org/other resolved");
    CHECK(HAS(err, "models--org--other/refs/main") && HAS(err, "phi3vk pull org/other ") &&
              HAS(err, "unknown offline"),
          "missing repo: %s", err);
    CHECK(out[0] == 0, "out set on failure: %s", out);
    CHECK(resolve(cache, "org/model@v9", out, sizeof out, err, sizeof err) == -1 &&
              HAS(err, "phi3vk pull org/model@v9") && HAS(err, "refs/v9"),
          "missing revision: %s", err);
    CHECK(resolve(cache, "org/model@" SHA3, out, sizeof out, err, sizeof err) == -1 && HAS(err, "no folder") &&
              HAS(err, "phi3vk pull org/model@" SHA3),
          "missing sha: %s", err);
    CHECK(resolve(cache, "org/bad name", out, sizeof out, err, sizeof err) == -1 && HAS(err, "invalid character"),
          "bad id: %s", err);

    /* A ref that is not a sha; a ref to a missing snapshot. */
    snprintf(p, sizeof p, "%s/%s/refs/garbage", cache, repo);
    write_file(p, "not-a-sha");
    CHECK(resolve(cache, "org/model@garbage", out, sizeof out, err, sizeof err) == -1 && HAS(err, "40-hex"), "%s",
          err);
    snprintf(p, sizeof p, "%s/%s/refs/gone", cache, repo);
    write_file(p, SHA3);
    CHECK(resolve(cache, "org/model@gone", out, sizeof out, err, sizeof err) == -1 && HAS(err, "no folder"), "%s",
          err);

    /* Interrupted downloads by other tools: a dangling link; a shard the index lists but is absent. */
    const char *r2 = "models--org--partial";
    snprintf(p, sizeof p, "%s/%s/refs/main", cache, r2);
    write_file(p, SHA1);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/model.safetensors", cache, r2);
    make_link("../../blobs/missing", p);
    CHECK(resolve(cache, "org/partial", out, sizeof out, err, sizeof err) == -1 && HAS(err, "partly") &&
              HAS(err, "missing blob") && HAS(err, "phi3vk pull org/partial"),
          "dangling: %s", err);
    const char *r3 = "models--org--sharded";
    snprintf(p, sizeof p, "%s/%s/refs/main", cache, r3);
    write_file(p, SHA1);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/model.safetensors.index.json", cache, r3);
    write_file(p, "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                  "\"b\": \"model-00002-of-00002.safetensors\"}}");
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/model-00001-of-00002.safetensors", cache, r3);
    write_file(p, "x");
    CHECK(resolve(cache, "org/sharded", out, sizeof out, err, sizeof err) == -1 &&
              HAS(err, "model-00002-of-00002.safetensors"),
          "missing shard: %s", err);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/model-00002-of-00002.safetensors", cache, r3);
    write_file(p, "x");
    CHECK(resolve(cache, "org/sharded", out, sizeof out, err, sizeof err) == 0, "all shards: %s", err);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1 "/model.safetensors.index.json", cache, r3);
    write_file(p, "{broken");
    CHECK(resolve(cache, "org/sharded", out, sizeof out, err, sizeof err) == -1 && HAS(err, "weight_map"),
          "broken index: %s", err);
    const char *r4 = "models--org--empty";
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1, cache, r4);
    mkdir(p, 0755); /* parents made below */
    snprintf(p, sizeof p, "%s/%s/refs/main", cache, r4);
    write_file(p, SHA1);
    snprintf(p, sizeof p, "%s/%s/snapshots/" SHA1, cache, r4);
    mkdir(p, 0755);
    CHECK(resolve(cache, "org/empty", out, sizeof out, err, sizeof err) == -1 && HAS(err, "empty"), "%s", err);

    /* hub_resolve() finds the cache through the environment. */
    clear_env();
    set_env("HF_HUB_CACHE", cache);
    CHECK(hub_resolve("org/model", out, sizeof out, err, sizeof err) == 0 && HAS(out, SHA1), "%s", err);
    clear_env();
    snprintf(p, sizeof p, "%s/hfhome", tmp_root);
    set_env("HF_HOME", p);
    CHECK(hub_resolve("org/model", out, sizeof out, err, sizeof err) == -1 && HAS(err, "hfhome/hub/models--org"),
          "HF_HOME: %s", err);
    char small[16];
    set_env("HF_HUB_CACHE", cache);
    CHECK(hub_resolve("org/model", small, sizeof small, err, sizeof err) == -1 && HAS(err, "too long"), "%s", err);

    /* Probing the Hub for the size: refused offline, reported when unreachable. */
    hub_resolve_opts o = {.cache_dir = cache, .endpoint = "http://127.0.0.1:1", .probe_timeout_s = 3};
    set_env("HF_HUB_OFFLINE", "1");
    CHECK(hub_resolve_ex("org/other", &o, out, sizeof out, err, sizeof err) == -1 && HAS(err, "HF_HUB_OFFLINE"),
          "offline probe: %s", err);
    unsetenv("HF_HUB_OFFLINE");
    CHECK(hub_resolve_ex("org/other", &o, out, sizeof out, err, sizeof err) == -1 &&
              HAS(err, "download size unknown") && HAS(err, "127.0.0.1:1") && HAS(err, "phi3vk pull org/other"),
          "unreachable probe: %s", err);
    clear_env();
}

static void test_mapping_and_selection(void) {
    const char *t = hub_default_tokenizer_repo("grounded-ai/phi3-toxicity-judge-merge");
    CHECK(t && !strcmp(t, "microsoft/Phi-3-mini-4k-instruct"), "judge -> %s", t ? t : "NULL");
    t = hub_default_tokenizer_repo("grounded-ai/phi3-toxicity-judge-merge@" SHA1);
    CHECK(t && !strcmp(t, "microsoft/Phi-3-mini-4k-instruct"), "judge@sha -> %s", t ? t : "NULL");
    CHECK(!hub_default_tokenizer_repo("microsoft/Phi-3-mini-4k-instruct"), "base has its own");
    CHECK(!hub_default_tokenizer_repo("grounded-ai/phi3-toxicity-judge-merge-x"), "prefix only");
    CHECK(!hub_default_tokenizer_repo(NULL), "NULL");

    static const char *const yes[] = {"config.json", "generation_config.json", "model.safetensors",
                                      "model-00001-of-00002.safetensors", "model.safetensors.index.json",
                                      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    static const char *const no[] = {"README.md", "pytorch_model.bin", "onnx/model.safetensors", "tokenizer.model",
                                     ".gitattributes", "config.json.bak", "sub/config.json"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) CHECK(hub_file_selected(yes[i], NULL), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) CHECK(!hub_file_selected(no[i], NULL), "%s", no[i]);
    const char *const inc[] = {"*.md", "onnx/*", NULL};
    CHECK(hub_file_selected("README.md", inc) && hub_file_selected("docs/x.md", inc), "'*' crosses '/'");
    CHECK(hub_file_selected("onnx/model.onnx", inc), "onnx/*");
    CHECK(!hub_file_selected("config.json", inc), "patterns replace the default set");
    const char *const none[] = {NULL};
    CHECK(hub_file_selected("config.json", none), "empty list = default set");

    char b[32];
    hub_format_bytes(999, b, sizeof b);
    CHECK(!strcmp(b, "999 B"), "%s", b);
    hub_format_bytes(7642159104ull, b, sizeof b);
    CHECK(!strcmp(b, "7.64 GB"), "%s", b);
}

/* ---- the revision API parser ---- */

static void test_api_parse(void) {
    hub_revision_info info;
    char err[512];
    const char *good =
        "{\"id\":\"o/n\",\"sha\":\"" SHA1 "\",\"siblings\":["
        "{\"rfilename\":\"config.json\",\"size\":12,\"blobId\":\"abcdef0123\"},"
        "{\"rfilename\":\"model.safetensors\",\"size\":100,\"blobId\":\"ffff\",\"lfs\":{\"sha256\":"
        "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\",\"size\":4000000000,"
        "\"pointerSize\":134}},"
        "{\"rfilename\":\"sub/dir/README.md\"}]}";
    CHECK(hub_parse_revision_info(good, strlen(good), "test", &info, err, sizeof err) == 0, "%s", err);
    CHECK(info.n_files == 3 && !strcmp(info.sha, SHA1), "n %d", info.n_files);
    if (info.n_files == 3) {
        CHECK(!strcmp(info.files[0].name, "config.json") && info.files[0].size == 12 && info.files[0].size_known &&
                  !strcmp(info.files[0].etag, "abcdef0123") && !info.files[0].sha256[0],
              "file 0");
        CHECK(info.files[1].size == 4000000000ull &&
                  !strcmp(info.files[1].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") &&
                  !strcmp(info.files[1].etag, info.files[1].sha256),
              "lfs file: size %llu etag %s", (unsigned long long)info.files[1].size, info.files[1].etag);
        CHECK(!info.files[2].size_known && !info.files[2].etag[0], "no blobs info");
    }
    hub_revision_info_free(&info);
    hub_revision_info_free(&info); /* zeroed: harmless */

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"", "bad JSON"},
        {"{\"sha\":", "bad JSON"},
        {"[1,2]", "another JSON value"},
        {"{\"siblings\":[]}", "\"sha\""},
        {"{\"sha\":\"main\",\"siblings\":[]}", "'main'"},
        {"{\"sha\":\"" SHA1 "\"}", "siblings"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":{}}", "siblings"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"size\":1}]}", "rfilename"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[7]}", "rfilename"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"../../etc/passwd\"}]}", "'..'"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a/./b\"}]}", "'.'"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"/etc/passwd\"}]}", "absolute"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a//b\"}]}", "empty path part"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a/\"}]}", "empty path part"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"\"}]}", "empty"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\\\\b\"}]}", "backslash"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\\nb\"}]}", "control"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\xff\"}]}", "UTF-8"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\xc0\xaf\"}]}", "UTF-8"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"size\":-1}]}", "byte count"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"size\":1.5}]}", "byte count"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"size\":1e300}]}", "byte count"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"size\":\"12\"}]}", "byte count"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"blobId\":\"../x\"}]}", "blobId"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"blobId\":\".hidden\"}]}", "blobId"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"lfs\":{\"sha256\":\"abc\"}}]}", "sha256"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"a\",\"lfs\":5}]}", "sha256"},
        {"{\"sha\":\"" SHA1 "\",\"siblings\":[{\"rfilename\":\"ok\"},{\"rfilename\":\"..\"}]}", "siblings[1]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = hub_parse_revision_info(bad[i].json, strlen(bad[i].json), "test", &info, err, sizeof err);
        CHECK(rc == -1 && HAS(err, bad[i].msg), "case %zu -> rc %d '%s' (want '%s')", i, rc, err, bad[i].msg);
        CHECK(info.files == NULL && info.n_files == 0, "case %zu: not cleared", i);
    }
    /* Not NUL-terminated: the length bounds the parse. */
    const char *j = "{\"sha\":\"" SHA1 "\",\"siblings\":[]}";
    char buf[128];
    size_t n = strlen(j);
    memcpy(buf, j, n);
    memcpy(buf + n, "XXXX", 4); /* trailing garbage after the object, no NUL */
    CHECK(hub_parse_revision_info(buf, n, "test", &info, err, sizeof err) == 0, "length-bounded: %s", err);
    hub_revision_info_free(&info);
}

/* ---- against the local fake Hub ---- */

typedef struct counts {
    int start, done, cached, progress, retry;
    uint64_t last_total;
    int monotonic; /* total_done never went down */
} counts;

static void count_events(void *user, const hub_progress *p) {
    counts *c = user;
    c->start += p->event == HUB_EV_FILE_START;
    c->done += p->event == HUB_EV_FILE_DONE;
    c->cached += p->event == HUB_EV_FILE_CACHED;
    c->progress += p->event == HUB_EV_FILE_PROGRESS;
    c->retry += p->event == HUB_EV_FILE_RETRY;
    if (p->total_done < c->last_total) c->monotonic = 0;
    c->last_total = p->total_done;
}

/* Starts tests/hub_server.py; returns its pid and port, or -1 when python3 is missing. */
static pid_t start_server(const char *script, const char *mode, int *port) {
    int fds[2];
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0 || pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", script, "--max-seconds", "120", "--mode", mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = {0};
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    size_t n = 0;
    while (n < sizeof line - 1 && poll(&pfd, 1, 20000) > 0) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    close(fds[0]);
    *port = atoi(line);
    if (pid < 0 || *port <= 0) {
        if (pid > 0) kill(pid, SIGTERM), waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void test_pull_local(void) {
    const char *src = getenv("PHI3VK_SRC");
    char script[1024], cache[512], endpoint[64], err[1024], out[2048];
    if (!src) {
        test_skip_part("PHI3VK_SRC unset: the local-Hub pull checks need tests/hub_server.py");
        return;
    }
    snprintf(script, sizeof script, "%s/tests/hub_server.py", src);
    int port = 0;
    pid_t pid = start_server(script, "", &port);
    if (pid < 0) {
        char why[1200];
        snprintf(why, sizeof why, "/usr/bin/python3 or %s unavailable: the local-Hub pull checks need them", script);
        test_skip_part(why);
        return;
    }
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    snprintf(cache, sizeof cache, "%s/pullcache", tmp_root);
    clear_env();
    set_env("HF_HOME", tmp_root); /* no token file there */

    /* Before the pull: resolution fails, and the probe says how much the pull would fetch. */
    hub_resolve_opts ro = {.cache_dir = cache, .endpoint = endpoint, .probe_timeout_s = 10};
    CHECK(hub_resolve_ex("phi3vk-test/tiny-phi3", &ro, out, sizeof out, err, sizeof err) == -1 &&
              HAS(err, "phi3vk pull phi3vk-test/tiny-phi3") && HAS(err, "downloads 284.2 kB in 6 files"),
          "probe: %s", err);

    hub_pull_opts o = {.repo = "phi3vk-test/tiny-phi3", .cache_dir = cache, .endpoint = endpoint, .dry_run = 1};
    hub_pull_result r;
    CHECK(hub_pull(&o, &r, err, sizeof err) == 0, "dry run: %s", err);
    CHECK(r.n_files == 6 && r.n_cached == 0 && r.need_bytes == r.total_bytes && r.downloaded_bytes == 0,
          "dry run: %d files, %d cached, need %llu of %llu", r.n_files, r.n_cached, (unsigned long long)r.need_bytes,
          (unsigned long long)r.total_bytes);
    struct stat st;
    CHECK(stat(cache, &st) != 0, "dry run created %s", cache);

    counts c = {.monotonic = 1};
    o.dry_run = 0;
    o.progress = count_events;
    o.progress_user = &c;
    CHECK(hub_pull(&o, &r, err, sizeof err) == 0, "pull: %s", err);
    CHECK(c.start == 6 && c.done == 6 && c.cached == 0 && c.retry == 0 && c.monotonic, "events %d/%d/%d/%d",
          c.start, c.done, c.cached, c.retry);
    CHECK(c.last_total == r.total_bytes && r.downloaded_bytes == r.total_bytes, "totals %llu %llu %llu",
          (unsigned long long)c.last_total, (unsigned long long)r.downloaded_bytes, (unsigned long long)r.total_bytes);
    CHECK(hub_resolve_ex("phi3vk-test/tiny-phi3", &ro, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, r.snapshot),
          "resolve after pull: %s (%s vs %s)", err, out, r.snapshot);
    char spec[128];
    snprintf(spec, sizeof spec, "phi3vk-test/tiny-phi3@%s", r.sha);
    CHECK(hub_resolve_ex(spec, &ro, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, r.snapshot),
          "resolve by sha: %s", err);

    /* Again: everything is cached, nothing is downloaded. */
    counts c2 = {.monotonic = 1};
    o.progress_user = &c2;
    CHECK(hub_pull(&o, &r, err, sizeof err) == 0, "second pull: %s", err);
    CHECK(r.n_cached == 6 && r.downloaded_bytes == 0 && c2.cached == 6 && c2.start == 0, "second pull: %d cached",
          r.n_cached);

    /* An unknown revision and an unknown repo. */
    o.revision = "no-such-branch";
    CHECK(hub_pull(&o, &r, err, sizeof err) == -1 && HAS(err, "revision 'no-such-branch' not found"), "%s", err);
    o.revision = NULL;
    o.repo = "nobody/nothing";
    CHECK(hub_pull(&o, &r, err, sizeof err) == -1 && HAS(err, "nobody/nothing not found") && HAS(err, "HF_TOKEN"),
          "%s", err);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    clear_env();
}

/* The repo a cache snapshot path belongs to (how convert and every command
 * find the judge's base tokenizer from its snapshot folder). */
static void test_repo_of_snapshot(void) {
    char out[256];
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    char p[512];
    snprintf(p, sizeof p, "/c/hub/models--grounded-ai--phi3-toxicity-judge-merge/snapshots/%s/", sha);
    CHECK(hub_repo_of_snapshot(p, out, sizeof out) == 0 && !strcmp(out, "grounded-ai/phi3-toxicity-judge-merge"),
          "snapshot: %s", out);
    snprintf(p, sizeof p, "models--a.b--c_d-e/snapshots/%s", sha);
    CHECK(hub_repo_of_snapshot(p, out, sizeof out) == 0 && !strcmp(out, "a.b/c_d-e"), "relative: %s", out);
    static const char *const bad[] = {"/c/models--a--b/snapshots/0123", "/c/models--a--b/blobs/0123456789abcdef0123456789abcdef01234567",
                                      "/c/datasets--a--b/snapshots/0123456789abcdef0123456789abcdef01234567",
                                      "/c/models--ab/snapshots/0123456789abcdef0123456789abcdef01234567", "/", "",
                                      "snapshots/0123456789abcdef0123456789abcdef01234567",
                                      "/c/models--a--../snapshots/0123456789abcdef0123456789abcdef01234567"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(hub_repo_of_snapshot(bad[i], out, sizeof out) == -1, "not a snapshot: '%s' gave %s", bad[i], out);
    CHECK(hub_repo_of_snapshot("/c/models--a--b/snapshots/0123456789abcdef0123456789abcdef01234567", out, 3) == -1,
          "too small an output");
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_hub.XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    char *saved[N_ENV];
    for (size_t i = 0; i < N_ENV; i++) saved[i] = getenv(env_names[i]) ? strdup(getenv(env_names[i])) : NULL;
    test_sha256();
    test_parse();
    test_cache_dir();
    test_resolve();
    test_mapping_and_selection();
    test_repo_of_snapshot();
    test_api_parse();
    test_pull_local();
    for (size_t i = 0; i < N_ENV; i++) {
        set_env(env_names[i], saved[i]);
        free(saved[i]);
    }
    rm_rf(tmp_root);
    return test_finish();
}
