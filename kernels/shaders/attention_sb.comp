#version 450
// Attention (attention_body.glsl) with K/V through storage buffers (GPUs)
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.h"
#define KV_SSBO 1
#include "attention_body.glsl"
