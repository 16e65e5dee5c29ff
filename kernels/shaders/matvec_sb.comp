#version 450
// matvec.comp for GPUs: W and x through plain storage buffers (16-byte vector
// loads, the memory path GPUs stream fastest), for weights within
// maxStorageBufferRange.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.h"
#define W_SSBO 1
#include "matvec_body.glsl"
