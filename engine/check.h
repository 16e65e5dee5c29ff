/* Attested correctness: a fixed check that every bench run does on the
 * device it measures, so a fast but wrong driver shows up in the table.
 *
 * A small synthetic Phi-3 (hidden 384, 4 heads of 96 like Phi-3-mini, ffn
 * 1024, 2 layers, vocab 1000, sliding window 16, fixed seed) is built with
 * eng_model_synthetic on the measured device. The device prefills a fixed
 * 12-token prompt (all logits kept), greedy-decodes 16 ids (the first from
 * the prompt's logits, then eng_ctx_decode_greedy: argmax on the device)
 * and evaluates the last id once more for its logits. A CPU reference
 * (bench/ref.h) computes the same from the same seed at run time. The check
 * passes when all 16 ids agree and the logits (12 prompt rows + the last
 * row) are within normalized MSE ENG_CHECK_NMSE of the reference.
 *
 * Why 1e-4: the device rounds matmul inputs and the KV cache to fp16 where
 * the reference keeps fp32, about 1e-6 .. 1e-5 after two layers; a wrong
 * kernel (RoPE pair, mask, head mapping, a dropped residual) gives > 1e-2. */
#ifndef PHI3VK_BENCH_CHECK_H
#define PHI3VK_BENCH_CHECK_H
#include "vk/vkr.h"

#define ENG_CHECK_NMSE 1e-4  /* largest normalized MSE that passes */
#define ENG_CHECK_IDS 16     /* greedy ids compared */

typedef struct eng_check_result {
    int pass;             /* 1: ids equal and nmse <= ENG_CHECK_NMSE */
    double nmse;          /* sum (dev - ref)^2 / sum ref^2 over the compared logits; NaN if none */
    int ids_match;        /* leading greedy ids equal to the reference's, 0 .. ENG_CHECK_IDS */
    double ref_margin;    /* smallest top-1 minus top-2 reference logit along the greedy path
                             (how far a correct device is from flipping an id) */
    double ms;            /* wall time of the whole check */
    char message[512];    /* why it failed ("" when it passed) */
} eng_check_result;

/* Runs the check on vk (not owned; its profile and validation settings are
 * kept). Fills *out and returns 0 when it passed, -1 when it failed or could
 * not run (out->message says which). */
int eng_check_run(vkr_ctx *vk, eng_check_result *out);

/* The reference side alone, computed once for several device runs (the
 * self-test compares several kernel choices against it). */
typedef struct eng_check_ref eng_check_ref;
eng_check_ref *eng_check_ref_create(char *err, size_t errlen);
void eng_check_ref_free(eng_check_ref *ref);
/* The device side of eng_check_run against a reference made before. */
int eng_check_compare(vkr_ctx *vk, const eng_check_ref *ref, eng_check_result *out);

/* Test hook, not a user option: with on = 1 the CPU reference is computed
 * from a different seed, so every later check must fail. Used by
 * tests/test_bench.c to prove the attestation can fail. */
void eng_check_corrupt_for_test(int on);

#endif
