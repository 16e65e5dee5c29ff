#version 450
// Register-blocked prefill matmul (matmul_body.glsl), W and x through storage buffers
// (CPU drivers whose texel loads are unusable: README, "Driver quirks").
#include "common.h"
#define W_SSBO 1
#include "matmul_body.glsl"
