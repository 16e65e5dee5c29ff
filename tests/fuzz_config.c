/* Fuzz target: config.json and generation_config.json parsing from memory.
 * Any input must give 0 or -1 with a message, never a crash or a leak. */
#include <stdint.h>
#include <string.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    phi3_config cfg;
    char err[512];
    if (phi3_config_parse(&cfg, (const char *)data, size, "fuzz/config.json", err, sizeof err) == 0) {
        phi3_config_parse_generation(&cfg, (const char *)data, size, "fuzz/generation_config.json", err, sizeof err);
        phi3_config_validate(&cfg, "fuzz", err, sizeof err);
    }
    return 0;
}
