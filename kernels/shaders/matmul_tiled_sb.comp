#version 450
// Prefill matmul from shared-memory tiles (matmul_tiled_body.glsl), W and x
// through storage buffers: the GPUs' fastest load path, for tensors within
// maxStorageBufferRange.
#include "common.h"
#define W_SSBO 1
#include "matmul_tiled_body.glsl"
