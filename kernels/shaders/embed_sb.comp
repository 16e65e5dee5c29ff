#version 450
// Embedding row gather (embed_body.glsl), W through a storage buffer (profiles
// with storage-buffer loads; a table past maxStorageBufferRange is bound a
// range of rows at a time).
#include "common.h"

layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };
#define WLOAD(i) w_texels[i]
#define W_TEXELS uint(w_texels.length())
#include "embed_body.glsl"
