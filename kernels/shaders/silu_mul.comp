#version 450
// SwiGLU activation: y fp16 [T, ld_out] = silu(g) * u with g = gate_up[t, i],
// u = gate_up[t, n_ff + i] (gate_up fp32 [T, 2 n_ff]), silu(g) = g / (1 + e^-g).
// One invocation per 2 outputs (written as one uint); the pad columns
// n_ff .. ld_out-1 are written as zero so the next matmul may read them.
#include "common.h"

layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer Gb { float gu[]; };
layout(binding = 1, std430) writeonly buffer Yb { uint y[]; };
layout(push_constant) uniform PC { pc_silu_mul p; };

float act(uint t, uint i) {
    if (i >= p.n_ff) return 0.0;
    float g = gu[t * 2u * p.n_ff + i];
    return g / (1.0 + exp(-g)) * gu[t * 2u * p.n_ff + p.n_ff + i];
}

void main() {
    uint k = gl_GlobalInvocationID.x;              // output pair
    uint t = gl_GlobalInvocationID.y;
    if (2u * k >= p.ld_out || t >= p.n_tokens) return;
    y[(t * p.ld_out) / 2u + k] = packHalf2x16(vec2(act(t, 2u * k), act(t, 2u * k + 1u)));
}
