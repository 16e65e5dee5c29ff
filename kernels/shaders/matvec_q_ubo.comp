#version 450
// matvec_q.comp with the input x in a uniform buffer (CPU drivers load uniforms
// faster), W through texelFetch: 2 .. 4 tokens on the CPU profile.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"
#define X_UBO 1
#include "matvec_q_body.glsl"
