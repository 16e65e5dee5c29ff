#version 450
// y[t, n] (+)= sum_k W[n, k] x[t, k] for few tokens (decode): W fp16 [N, ld] read as
// RGBA32UI texels (8 halves), x fp16 [T, ld] as uvec4, y fp32 [T, N].
// Each subgroup owns ROWS rows at a time; its lanes stride over the row's texels,
// every weight texel is used for NT tokens at once, and a subgroupAdd finishes each
// dot product. No shared memory and no barriers. This variant: W through a uniform
// texel buffer, x in a storage buffer (CPU devices, x too large for a uniform buffer).
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"

#include "matvec_body.glsl"
