/* The SPIR-V of every shaders/<name>.comp, embedded at build time by
 * cmake/embed_spv.cmake (build/generated/shaders_gen.c). */
#ifndef PHI3VK_VK_SHADERS_H
#define PHI3VK_VK_SHADERS_H
#include <stddef.h>
#include <stdint.h>

typedef struct vkr_shader_code {
    const char *name;      /* file name without .comp */
    const uint32_t *code;  /* SPIR-V words */
    size_t size;           /* bytes */
} vkr_shader_code;

extern const vkr_shader_code vkr_shader_table[];
extern const int vkr_shader_count;

#endif
