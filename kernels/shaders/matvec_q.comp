#version 450
// Decode matvec with quantized weights (matvec_q_body.glsl): W through a uniform
// texel buffer, x in a storage buffer (CPU devices, x too large for a uniform
// buffer; GPU profiles for weights past maxStorageBufferRange).
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"

#include "matvec_q_body.glsl"
