#version 450
// matvec.comp with the input x in a uniform buffer: CPU drivers (lavapipe) load
// uniforms much faster than storage buffers; used when T * ld fits maxUniformBufferRange.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"
#define X_UBO 1
#include "matvec_body.glsl"
