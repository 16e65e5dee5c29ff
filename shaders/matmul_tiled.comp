#version 450
// Prefill matmul from shared-memory tiles (matmul_tiled_body.glsl), W and x
// through read-only storage texel buffers: any tensor size up to
// maxTexelBufferElements texels.
#include "common.h"
#include "matmul_tiled_body.glsl"
