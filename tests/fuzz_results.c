/* Fuzz target: an existing --out file, as a resumed classify/eval run opens
 * it: judge_results_open (result and provenance lines, torn-line repair,
 * replaced ids), every lookup, one append, and the provenance written back.
 * Invariants (abort): a file that is refused is left byte for byte as it was
 * (issue 14 row 2: a user's file was cut to nothing); an accepted file only
 * loses a torn tail that is the start of a line phi3vk writes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge/provenance.h"
#include "judge/results.h"

static char path[64];

static void cleanup(void) { unlink(path); }

static unsigned char *slurp(size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap && !(b = realloc(b, cap *= 2))) abort();
    }
    fclose(f);
    *n = len;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_results.%ld.jsonl", (long)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    char err[1024];
    judge_results *r = judge_results_open(path, err, sizeof err);
    size_t n = 0;
    unsigned char *back = slurp(&n);
    if (!r) {
        if (!err[0] || n != size || (size && memcmp(back, data, size))) abort(); /* refused: untouched */
        free(back);
        return 0;
    }
    /* accepted: what is left is the input, less a torn tail, or plus a '\n' */
    size_t keep = n <= size ? n : size;
    if (memcmp(back, data, keep) || (n > size && (n != size + 1 || back[size] != '\n'))) abort();
    if (n < size && data[n] != '{' && data[n] != ' ' && data[n] != '\t' && data[n] != '\r') abort();
    free(back);
    judge_result res = {.id = "fuzz-new-id", .label = JUDGE_ERROR, .error = "too long"};
    judge_sha256_hex(data, size, res.text_sha256);
    if (judge_results_get(r, "1")) (void)judge_results_get(r, "1")->label;
    int before = judge_results_count(r);
    if (judge_results_append(r, &res, err, sizeof err) == 0 && judge_results_count(r) < before) abort();
    judge_provenance p = {.threshold = 0.5};
    snprintf(p.model, sizeof p.model, "fuzz");
    judge_results_set_provenance(r, &p, err, sizeof err);
    if (!judge_results_provenance(r)) abort();
    judge_results_close(r, NULL, 0);
    return 0;
}
