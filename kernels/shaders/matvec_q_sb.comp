#version 450
// matvec_q.comp for GPUs: W and x through storage buffers (16-byte vector loads),
// for weights within maxStorageBufferRange.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.h"
#define W_SSBO 1
#include "matvec_q_body.glsl"
