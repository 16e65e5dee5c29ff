#version 450
// Prefill matmul from shared-memory tiles (matmul_tiled_body.glsl), W and x
// through uniform texel buffers: any tensor size up to maxTexelBufferElements
// texels (GPU profiles, for weights past maxStorageBufferRange).
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"
#include "matmul_tiled_body.glsl"
