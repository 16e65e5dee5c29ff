/* The check of the measured model itself, on the measured device: a fixed
 * short prompt through the bench's model (its weights, layers and kernels)
 * against the C reference forward (engine/ref.h) computed from the same
 * weights on the host, compared by the logits of every position.
 *
 * The prompt is BOS + "The capital of France is Paris. The capital of Italy
 * is" in Phi-3's tokenizer (13 ids; taken modulo the vocabulary of smaller
 * models), so on a real model every position predicts something definite.
 * The device reads the first 9 ids in one prompt pass (the prefill kernels)
 * and the last 4 one at a time (the decode step tg measures), keeping the
 * logits of every position; the reference reads all 13 in one call.
 * The check passes when
 *   - the normalized MSE of all logits, sum (dev - ref)^2 / sum ref^2, is at
 *     most BENCH_MODEL_CHECK_NMSE, and
 *   - at every position the device's arg-max is the reference's, or the
 *     reference ranks the device's pick within 4 x the device's rms logit
 *     error of its own top logit (a tie the device's fp16 rounding can
 *     flip: counted in `excused`).
 * Why 1e-3: the device rounds activations to fp16 at every matrix input and
 * in the KV cache where the reference keeps fp32 (measured ~1e-7 .. 1e-5 on
 * random weights at 1 to 32 layers); a wrong kernel gives 1e-2 and more.
 *
 * The reference streams the checkpoint one layer at a time on every core:
 * one pass over the weights (the judge: its 15 GB of F32 shards) and
 * ~2 x 13 x parameters flops. --no-model-check skips it where that is too
 * slow, and the row says "skipped". */
#ifndef PHI3VK_BENCH_MODEL_CHECK_H
#define PHI3VK_BENCH_MODEL_CHECK_H
#include <stddef.h>

#include "engine/engine.h"
#include "model/synth.h"

#define BENCH_MODEL_CHECK_NMSE 1e-3   /* largest normalized MSE that passes */
#define BENCH_MODEL_CHECK_TOKENS 13   /* prompt positions compared */
#define BENCH_MODEL_CHECK_PREFILL 9   /* of them read in one prompt pass; the rest one at a time */

typedef struct bench_model_check {
    int ran;              /* 0: skipped (--no-model-check) or not run yet */
    int pass;             /* 1: within the bound at every position (see above) */
    double nmse;          /* over all positions' logits; NaN when it did not run */
    int agree;            /* positions whose device arg-max is the reference's */
    int excused;          /* positions that differ within the device's error of a tie */
    int positions;        /* BENCH_MODEL_CHECK_TOKENS */
    double ref_s, dev_s;  /* wall time of the reference and of the device side */
    char message[384];    /* why it failed or could not run; "" when it passed */
} bench_model_check;

/* Where the reference reads the weights the device holds: the checkpoint
 * at path (folder or GGUF), or the synthetic model synth (path NULL), and
 * the --weights scheme the model was loaded with (the reference quantizes
 * the same way and computes with the dequantized values). */
typedef struct bench_model_source {
    const char *path;
    const phi3_synth_opts *synth;
    phi3_quant weights;
} bench_model_source;

/* Runs the check of model m (its n_layers, which may be cut by --layers)
 * and fills *out; a check that cannot run (no host memory, an unreadable
 * file, a device error) is a failed check with the reason in message.
 * threads: host threads for the reference (0: every online CPU). Returns 0
 * when it passed, -1 otherwise. */
int bench_model_check_run(eng_model *m, const bench_model_source *src, int threads, bench_model_check *out);

/* Marks *out as skipped. */
void bench_model_check_skip(bench_model_check *out);

/* "pass", "fail" or "skipped". */
const char *bench_model_check_status(const bench_model_check *c);

#endif
