#version 450
// matvec_ubo.comp for one token (decode) with W through a read-only storage texel
// buffer: lavapipe inlines imageLoad, while its texelFetch is a call that spills the
// accumulators (bench/RESULTS.md). With more tokens per pass the inlined loop measured
// slower, so matvec_ubo keeps texelFetch.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.h"
#define X_UBO 1
#define W_IMAGE 1
#include "matvec_body.glsl"
