/* --device with several devices: "0,1" (indices or name substrings,
 * comma-separated) or "all" (every Vulkan device), for the commands that run
 * one engine per device (classify, eval, serve). Prints its errors; only
 * cli/ includes it. */
#ifndef PHI3VK_CLI_DEVICE_LIST_H
#define PHI3VK_CLI_DEVICE_LIST_H

#define CLI_MAX_DEVICES 16

typedef struct cli_device_list {
    int n;                               /* devices, 1 .. CLI_MAX_DEVICES */
    char sel[CLI_MAX_DEVICES][64];       /* each a selector --device takes alone */
} cli_device_list;

/* Splits spec (NULL or "": the default device, n = 1 with sel[0] "") into
 * selectors; "all" lists every device by index. Prints the error and returns
 * -1 for an empty item ("0,,1"), a device named twice, more than
 * CLI_MAX_DEVICES, or no Vulkan device at all for "all". */
int cli_device_list_parse(const char *cmd, const char *spec, cli_device_list *out);

/* Opens the model of m (cli_model_open's path, tokenizer and options) on
 * every device of list into out[0, list->n): the devices one after the
 * other (the Vulkan loader's global table is filled as each opens), the
 * weights in parallel threads. Prints the error and returns -1 (out[i] NULL
 * where a device failed; close the others). */
struct cli_model_args;
struct eng_model;
int cli_models_open(const char *cmd, const struct cli_model_args *m, const cli_device_list *list,
                    struct eng_model **out);

#endif
