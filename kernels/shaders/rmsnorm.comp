#version 450
// RMSNorm (rmsnorm_body.glsl), weights through a read-only storage texel buffer.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.h"
#include "rmsnorm_body.glsl"
