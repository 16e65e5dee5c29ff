/* Fuzz target: the Hub's revision-API body (network input that names files on disk)
 * and repo-id parsing. Any input must give 0 or -1 with a message, never a crash or a
 * leak; an accepted file name must be a safe relative path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hub_revision_info info;
    char err[512];
    if (hub_parse_revision_info((const char *)data, size, "fuzz", &info, err, sizeof err) == 0) {
        for (int i = 0; i < info.n_files; i++) {
            const char *n = info.files[i].name;
            if (n[0] == '/' || strchr(n, '\\')) abort();
            for (const char *p = n;;) { /* no "", "." or ".." path part */
                size_t k = strcspn(p, "/");
                if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.')) abort();
                if (!p[k]) break;
                p += k + 1;
            }
            hub_file_selected(n, NULL);
        }
        hub_revision_info_free(&info);
    }
    /* The same bytes as a repo id (NUL-terminated copy, at most 512 bytes). */
    char spec[513];
    size_t n = size < 512 ? size : 512;
    memcpy(spec, data, n);
    spec[n] = 0;
    hub_repo_id id;
    if (hub_parse_repo_id(spec, &id, err, sizeof err) == 0 &&
        (strstr(id.revision, "..") || strchr(id.owner, '/') || strchr(id.name, '/')))
        abort();
    hub_default_tokenizer_repo(spec);
    return 0;
}
