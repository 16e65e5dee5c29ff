#version 450
// matvec_q_ubo.comp for one token (decode) with W through a read-only storage
// texel buffer: lavapipe inlines imageLoad (matvec_one.comp says why).
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.h"
#define X_UBO 1
#define W_IMAGE 1
#include "matvec_q_body.glsl"
