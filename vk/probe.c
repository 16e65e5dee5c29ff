/* The subgroup probe (shaders/subgroup_probe.comp): what the device's
 * subgroups really are, as opposed to what it reports. */
#include <string.h>

#include "vk/vkr_internal.h"

int vkr_subgroup_probe(vkr_ctx *ctx, vkr_subgroup_facts *out) {
    memset(out, 0, sizeof *out);
    uint32_t wg = ctx->info.max_workgroup_invocations < 128 ? ctx->info.max_workgroup_invocations : 128;
    vkr_buffer *b = vkr_buffer_create(ctx, "subgroup_probe", 16, VKR_BUF_HOST);
    vkr_cmd *cmd = b ? vkr_cmd_create(ctx, "subgroup_probe") : NULL;
    int rc = -1;
    if (!cmd) goto done;
    memset(vkr_buffer_map(b), 0, 16);
    vkr_pipeline *p = vkr_pipeline_get(ctx, &(vkr_pipeline_desc){
        .shader = "subgroup_probe", .bindings = "w", .spec = {wg}, .n_spec = 1});
    if (vkr_cmd_begin(cmd)) goto done;
    vkr_cmd_dispatch(cmd, &(vkr_dispatch){.pipeline = p, .bind = {b}, .label = "subgroup_probe"});
    if (vkr_cmd_end(cmd) || vkr_cmd_run(cmd)) goto done;
    const uint32_t *v = vkr_buffer_map(b);
    out->invocations = wg;
    out->reported = v[0];
    out->lanes = v[1];
    out->subgroups = v[2];
    out->top_id = v[3];
    rc = 0;
done:
    vkr_cmd_destroy(ctx, cmd);
    vkr_buffer_destroy(ctx, b);
    return rc;
}
