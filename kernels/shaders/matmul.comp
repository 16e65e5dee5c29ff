#version 450
// Register-blocked prefill matmul (matmul_body.glsl), W and x through read-only storage
// texel buffers: lavapipe inlines imageLoad (the CPU profile's kernel).
#include "common.h"
#include "matmul_body.glsl"
