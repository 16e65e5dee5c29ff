#version 450
// Embedding row gather (embed_body.glsl), W through a uniform texel buffer (CPU
// profile; no sampler: OpImageFetch on the image).
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"

layout(binding = 0) uniform utextureBuffer W;
#define WLOAD(i) texelFetch(W, i)
#define W_TEXELS uint(textureSize(W))
#include "embed_body.glsl"
