#version 450
// RMSNorm (rmsnorm_body.glsl), weights through a storage buffer (GPU profiles).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.h"
#define W_SSBO 1
#include "rmsnorm_body.glsl"
