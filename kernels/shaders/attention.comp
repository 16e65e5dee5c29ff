#version 450
// Attention (attention_body.glsl) with K/V through read-only storage texel buffers (CPU drivers inline imageLoad)
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.h"
#include "attention_body.glsl"
