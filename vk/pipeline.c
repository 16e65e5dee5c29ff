/* Compute pipelines from the embedded SPIR-V, one per (shader, constants). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/shaders.h"
#include "vk/vkr_internal.h"

static const vkr_shader_code *find_shader(const char *name) {
    for (int i = 0; i < vkr_shader_count; i++)
        if (!strcmp(vkr_shader_table[i].name, name)) return &vkr_shader_table[i];
    return NULL;
}

static int same_desc(const vkr_pipeline_desc *a, const vkr_pipeline_desc *b) {
    return !strcmp(a->shader, b->shader) && !strcmp(a->bindings, b->bindings) && a->push_size == b->push_size &&
           a->n_spec == b->n_spec && a->subgroup_size == b->subgroup_size && a->full_subgroups == b->full_subgroups &&
           a->portable == b->portable &&
           !memcmp(a->spec, b->spec, a->n_spec * sizeof a->spec[0]);
}

static void pipeline_free(vkr_ctx *ctx, vkr_pipeline *p) {
    if (p->pipeline) vkDestroyPipeline(ctx->device, p->pipeline, NULL);
    if (p->module) vkDestroyShaderModule(ctx->device, p->module, NULL);
    if (p->layout) vkDestroyPipelineLayout(ctx->device, p->layout, NULL);
    if (p->set_layout) vkDestroyDescriptorSetLayout(ctx->device, p->set_layout, NULL);
    free((char *)p->desc.bindings);
    free(p);
}

void vkr_pipelines_free(vkr_ctx *ctx) {
    while (ctx->pipelines) {
        vkr_pipeline *next = ctx->pipelines->next;
        pipeline_free(ctx, ctx->pipelines);
        ctx->pipelines = next;
    }
}

static vkr_pipeline *pipeline_create(vkr_ctx *ctx, const vkr_pipeline_desc *d) {
    const vkr_shader_code *code = find_shader(d->shader);
    size_t nb = strlen(d->bindings);
    if (!code) {
        vkr_set_error(ctx, "pipeline %s: no embedded shader of that name (shaders/%s.comp)", d->shader, d->shader);
        return NULL;
    }
    if (nb > VKR_MAX_BINDINGS || d->n_spec > VKR_MAX_SPEC || d->push_size > 128) {
        vkr_set_error(ctx, "pipeline %s: %zu bindings (max %d), %u constants (max %d), %u push bytes (max 128)",
                      d->shader, nb, VKR_MAX_BINDINGS, d->n_spec, VKR_MAX_SPEC, d->push_size);
        return NULL;
    }
    vkr_pipeline *p = calloc(1, sizeof *p);
    char *bindings = malloc(nb + 1);
    if (!p || !bindings) {
        free(p);
        free(bindings);
        vkr_set_error(ctx, "out of host memory");
        return NULL;
    }
    memcpy(bindings, d->bindings, nb + 1);
    p->desc = *d;
    p->desc.bindings = bindings;
    snprintf(p->shader_name, sizeof p->shader_name, "%s", d->shader);
    p->desc.shader = p->shader_name;

    VkDescriptorSetLayoutBinding b[VKR_MAX_BINDINGS];
    for (size_t i = 0; i < nb; i++) {
        char k = d->bindings[i];
        if (!strchr("tTrwuxX", k)) {
            vkr_set_error(ctx, "pipeline %s: binding %zu kind '%c' (expected t, T, r, w, u, x or X)", d->shader, i, k);
            goto fail;
        }
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = vkr_binding_type(k),
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    }
    VkDescriptorSetLayoutCreateInfo sli = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    sli.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
    sli.bindingCount = (uint32_t)nb;
    sli.pBindings = b;
    VKR_TRY(ctx, vkCreateDescriptorSetLayout(ctx->device, &sli, NULL, &p->set_layout));

    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size};
    VkPipelineLayoutCreateInfo pli = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &p->set_layout;
    pli.pushConstantRangeCount = d->push_size ? 1 : 0;
    pli.pPushConstantRanges = &pcr;
    VKR_TRY(ctx, vkCreatePipelineLayout(ctx->device, &pli, NULL, &p->layout));

    VkShaderModuleCreateInfo mi = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = code->size;
    mi.pCode = code->code;
    VKR_TRY(ctx, vkCreateShaderModule(ctx->device, &mi, NULL, &p->module));

    VkSpecializationMapEntry entries[VKR_MAX_SPEC];
    for (uint32_t i = 0; i < d->n_spec; i++) entries[i] = (VkSpecializationMapEntry){i, i * 4, 4};
    VkSpecializationInfo spec = {d->n_spec, entries, d->n_spec * 4, p->desc.spec};

    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo sg = {
        VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO};
    VkComputePipelineCreateInfo ci = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = p->module;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = d->n_spec ? &spec : NULL;
    /* Subgroup size control (Vulkan 1.3 or VK_EXT_subgroup_size_control):
     * pin the size the kernel's layout was planned for, and ask for full
     * subgroups when the workgroup (spec[0] by convention) holds whole ones. */
    uint32_t full = ctx->info.max_subgroup_size;
    uint32_t wg = d->n_spec ? d->spec[0] : 1, most = ctx->info.max_workgroup_subgroups;
    if (d->subgroup_size && ctx->info.subgroup_size_control && d->subgroup_size >= ctx->info.min_subgroup_size &&
        d->subgroup_size <= ctx->info.max_subgroup_size && (!most || wg <= d->subgroup_size * most)) {
        sg.requiredSubgroupSize = d->subgroup_size;
        ci.stage.pNext = &sg;
        full = d->subgroup_size;
    }
    if (d->full_subgroups && ctx->info.subgroup_size_control && d->n_spec && full && d->spec[0] % full == 0)
        ci.stage.flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    ci.layout = p->layout;
    VKR_TRY(ctx, vkCreateComputePipelines(ctx->device, ctx->pcache, 1, &ci, NULL, &p->pipeline));
    vkr_object_name(ctx, VK_OBJECT_TYPE_PIPELINE, (uint64_t)p->pipeline, d->shader);
    return p;
fail:
    pipeline_free(ctx, p);
    return NULL;
}

vkr_pipeline *vkr_pipeline_get(vkr_ctx *ctx, const vkr_pipeline_desc *desc) {
    for (vkr_pipeline *p = ctx->pipelines; p; p = p->next)
        if (same_desc(&p->desc, desc)) return p;
    vkr_pipeline *p = pipeline_create(ctx, desc);
    if (!p) return NULL;
    p->next = ctx->pipelines;
    ctx->pipelines = p;
    return p;
}

uint64_t vkr_shaders_hash(void) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a over names and SPIR-V */
    for (int i = 0; i < vkr_shader_count; i++) {
        const unsigned char *b = (const unsigned char *)vkr_shader_table[i].name;
        for (; *b; b++) h = (h ^ *b) * 1099511628211ull;
        b = (const unsigned char *)vkr_shader_table[i].code;
        for (size_t k = 0; k < vkr_shader_table[i].size; k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    return h;
}
