/* judge provenance: what produced the results of a run, recorded in the
 * --out file so that a resumed run never mixes results of two setups (another
 * model, tokenizer, prompt, mode, device, ...) in one file, and an eval report
 * never mixes two models.
 *
 * A results file holds provenance lines among its result lines:
 *   {"provenance":{"phi3vk_version":"0.1.0","model":"grounded-ai/...@<sha>",...},"schema_version":1}
 * A run writes one before its first result whenever the file's last
 * provenance differs from its own (so a file normally holds exactly one);
 * result lines belong to the provenance line above them.
 *
 * Every field takes part in the comparison (judge_provenance_diff); a field
 * only appears when known. Values not yet chosen by any option (threshold,
 * shard) are recorded as in effect, so adding such an option later only
 * changes the values. */
#ifndef PHI3VK_JUDGE_PROVENANCE_H
#define PHI3VK_JUDGE_PROVENANCE_H

#include <stddef.h>

typedef struct phi3_source phi3_source;

#define JUDGE_PROV_MAX_FALLBACKS 16

typedef struct judge_provenance {
    char phi3vk_version[32];       /* PHI3VK_VERSION */
    char model[1024];              /* owner/name@commit for a Hub repo, else the real path */
    char weights_sha256[65];       /* judge_provenance_hash_model: config files, tensor headers, data samples */
    char weight_type[16];          /* the checkpoint's dtype: "F32", "BF16", "F16", or "mixed" */
    char tokenizer[1024];          /* real path of the tokenizer file (the model's own for a GGUF) */
    char tokenizer_sha256[65];     /* of its bytes (+ tokenizer_config.json beside it) */
    char prompt[64];               /* prompt name ("judge-card", ..., "file") */
    char prompt_sha256[65];        /* of the template's bytes */
    char mode[16];                 /* "labels" or "reason" */
    int max_new_tokens;            /* with reason: -n in effect; labels: 0 */
    double threshold;              /* P(toxic) at or above which the label is toxic */
    char too_long[16];             /* --too-long policy: "error", "skip" or "truncate" */
    char shard[32];                /* "K/N" of a sharded run; "1/1" = the whole dataset */
    /* With several devices (--device 0,1) each of the next four lists them
     * all, in the order given, separated by "; ". */
    char device[1024];             /* Vulkan device name */
    char driver[1024];             /* driver name and version */
    char vendor[256];              /* vendor id, 0x.... */
    char device_profile[128];      /* the device profile whose kernels ran (vk/vkr.h) */
    int no_bos;                    /* --no-bos */
    /* Kernels the device runs in a fallback variant after its self-test.
     * Filled in one place (cli/judge_common.c: provenance_kernel_fallbacks). */
    char kernel_fallbacks[JUDGE_PROV_MAX_FALLBACKS][64];
    int n_kernel_fallbacks;
} judge_provenance;

/* The line {"provenance":{...}} with '\n', malloc'ed (length in *len, may be
 * NULL); NULL when out of memory. */
char *judge_provenance_line(const judge_provenance *p, size_t *len);

/* 1 when line[0, len) is a provenance line (then *out is filled), 0 when it
 * is some other JSON object, -1 when it is a provenance line with a field of
 * the wrong type (err says which). */
int judge_provenance_parse(const char *line, size_t len, judge_provenance *out, char *err, size_t errlen);

/* Lists in msg the fields where run differs from file ("model: the file has
 * 'a', this run 'b'; prompt_sha256: ..."), and returns how many differ. */
int judge_provenance_diff(const judge_provenance *file, const judge_provenance *run, char *msg, size_t len);

/* sha256 (hex) of what identifies a checkpoint without reading all of its
 * tensor data: for a Hugging Face folder config.json, generation_config.json
 * and model.safetensors.index.json (those present) and the header (8-byte
 * length + JSON) of every safetensors file; for a GGUF file every byte
 * before the tensor data; and for every file 16 samples of 4 KB spread over
 * its tensor data (fine-tunes of one architecture share their headers). Also the weights' dtype name into weight_type (16 bytes):
 * the one every weight has, or "mixed". Returns 0, or -1 with err. */
int judge_provenance_hash_model(const phi3_source *src, char out[65], char weight_type[16], char *err,
                                size_t errlen);

/* sha256 (hex) of the file at path; with also_config, the bytes of a
 * tokenizer_config.json in the same folder follow when there is one.
 * Returns 0, or -1 with err. */
int judge_provenance_hash_file(const char *path, int also_config, char out[65], char *err, size_t errlen);

/* sha256 (hex) of n bytes. */
void judge_sha256_hex(const void *data, size_t n, char out[65]);

#endif
